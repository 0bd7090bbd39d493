"""kexue.plotting.image_grid: the tiled array's shape and values at known positions."""

import math

import pytest
import torch

from kexue.plotting import image_grid, show_image_grid


def _images(n, h, w):
    # image k holds k everywhere except pixel (0, 0) = -k - 0.5 (marks the corner)
    x = torch.arange(n, dtype=torch.float64)[:, None, None].expand(n, h, w).clone()
    x[:, 0, 0] = -x[:, 0, 0] - 0.5
    return x


def test_shape_and_positions_with_padding():
    x = _images(5, 3, 4)  # (N, H, W)
    g = image_grid(x, 2, 3)  # 2 rows, 3 cols, gap 1
    assert g.shape == (2 * 4 - 1, 3 * 5 - 1) and g.dtype == torch.float32
    for n in range(5):
        i, j = divmod(n, 3)
        r, c = i * 4, j * 5
        assert g[r, c] == -n - 0.5  # its corner
        assert torch.all(g[r + 1: r + 3, c: c + 4] == n)
    assert torch.isnan(g[3]).all() and torch.isnan(g[:, 4]).all()  # the gaps
    assert torch.isnan(g[4:, 10:]).all()  # the sixth cell is empty


def test_layouts_agree_flat_channel_and_no_padding():
    x = _images(6, 8, 8)
    a = image_grid(x, 2, 3, padding=0)
    assert a.shape == (16, 24)
    assert torch.equal(a, image_grid(x.reshape(6, 64), 2, 3, padding=0))  # flat, square
    assert torch.equal(a, image_grid(x[:, None], 2, 3, padding=0))  # (N, 1, H, W)
    # row-major without gaps: the torchvision make_grid layout
    ref = x.reshape(2, 3, 8, 8).permute(0, 2, 1, 3).reshape(16, 24).float()
    assert torch.equal(a, ref)
    assert torch.equal(image_grid(x.reshape(6, 64), 1, 2, image_shape=(4, 16), padding=0),
                       torch.cat([x[0].reshape(4, 16), x[1].reshape(4, 16)], 1).float())
    assert image_grid(x, 1, 1, pad_value=-1.0).shape == (8, 8)  # extra images left out
    assert image_grid(x[:1], 1, 2, pad_value=-1.0)[0, 9:].eq(-1.0).all()


@pytest.mark.parametrize("bad,match", [
    (dict(images=torch.zeros(2, 10)), "not a square: pass image_shape"),
    (dict(images=torch.zeros(2, 12), image_shape=(3, 5)), "does not hold 12 pixels"),
    (dict(images=torch.zeros(2, 3, 4, 4)), "must be \\(N, H, W\\)"),
    (dict(images=torch.zeros(2, 4, 4), rows=0), "rows must be an int >= 1"),
    (dict(images=torch.zeros(2, 4, 4), padding=-1), "padding must be an int >= 0"),
])
def test_bad_input_names_the_argument(bad, match):
    kw = {"rows": 1, "cols": 2, **bad}
    with pytest.raises(ValueError, match=match):
        image_grid(**kw)
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        image_grid([[0.0]], 1, 1)


def test_show_draws_the_grid():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    show_image_grid(ax, _images(4, 8, 8).reshape(4, 64), 2, 2, "title")
    shown = ax.images[0].get_array()
    assert shown.shape == (17, 17) and ax.get_title() == "title"
    assert math.isclose(float(shown[9, 9]), -3.5)  # image 3's corner, lower right
