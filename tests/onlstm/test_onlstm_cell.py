"""ON-LSTM cell and layer (Shen et al. 2019; kexue.fm 6621): cumax, piecewise cases, nn.LSTM
equivalence, fused backward = autograd, shapes and bad input. float64 throughout."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.onlstm import ONLSTM, ONLSTMCell, cumax, master_gates, syntactic_distance
from kexue.onlstm._layer import layer_reference, master_matrix, onlstm_layer

D = torch.float64


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(6621)


# ---------------------------------------------------------------- cumax and distances
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), scale=st.floats(0.01, 50.0), seed=st.integers(0, 2**31 - 1))
def test_cumax_monotone_in_unit_interval_last_is_one(n, scale, seed):
    x = scale * torch.randn(3, n, generator=torch.Generator().manual_seed(seed), dtype=D)
    y = cumax(x)
    assert (y.diff(dim=-1) >= 0).all()
    assert (y >= 0).all() and (y <= 1 + 1e-15).all()
    torch.testing.assert_close(y[:, -1], torch.ones(3, dtype=D), rtol=0, atol=1e-14)
    r = cumax(x, reverse=True)
    assert (r.diff(dim=-1) <= 0).all()
    torch.testing.assert_close(r[:, 0], torch.ones(3, dtype=D), rtol=0, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_distance_is_the_expected_split_level(n, seed):
    # Su (kexue.fm 6621): Σ_k k p(k) = n (1 − mean cumsum p) + 1, levels counted from 1.
    z = 3 * torch.randn(5, n, generator=torch.Generator().manual_seed(seed), dtype=D)
    p = torch.softmax(z, -1)
    soft_argmax = (p * torch.arange(1, n + 1, dtype=D)).sum(-1)
    d = syntactic_distance(cumax(z), gate="forget")
    torch.testing.assert_close(soft_argmax, n * d + 1, rtol=0, atol=1e-12)
    assert (d >= -1e-15).all() and (d <= 1).all()


def test_master_matrix_reproduces_cumsums(gen):
    n = 7
    z = torch.randn(4, 2 * n, generator=gen, dtype=D)
    p = torch.softmax(z.view(4, 2, n), -1).view(4, 2 * n)
    for mode in ("paper", "symmetric"):
        # the layout is z = [z_i | z_f] and [ĩ | f̃] = [p_i | p_f] Q
        mf, mi = master_gates(z[:, n:], z[:, :n], master_input=mode)
        out = p @ master_matrix(n, mode == "symmetric", dtype=D)
        torch.testing.assert_close(out[:, :n], mi, rtol=0, atol=1e-14)
        torch.testing.assert_close(out[:, n:], mf, rtol=0, atol=1e-14)


# ---------------------------------------------------------------- the article's piecewise cases
def _hard_cell(mode, d_f, d_i, gen, n=5, chunk=3, inp=4, big=1e3):
    cell = ONLSTMCell(inp, n * chunk, chunk_size=chunk, master_input=mode, dtype=D)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=D) * 0.5)
        cell.weight_ih[:2 * n] = 0
        cell.weight_hh[:2 * n] = 0
        cell.bias_hh[:2 * n] = 0
        cell.bias_ih[:2 * n] = 0
        cell.bias_ih[d_i] = big  # z_i one-hot at d_i
        cell.bias_ih[n + d_f] = big  # z_f one-hot at d_f
    return cell


def _lstm_parts(cell, x, h, c):
    """f, i, ĉ of the plain LSTM inside the cell, computed independently."""
    n, H = cell.n_chunk, cell.hidden_size
    g = (x @ cell.weight_ih[2 * n:].t() + cell.bias_ih[2 * n:] + h @ cell.weight_hh[2 * n:].t()
         + cell.bias_hh[2 * n:])
    i, f, gg, _ = g.split(H, dim=-1)
    return torch.sigmoid(f), torch.sigmoid(i), torch.tanh(gg)


@pytest.mark.parametrize("mode", ["paper", "symmetric"])
@pytest.mark.parametrize("d_f,d_i", [(0, 0), (1, 3), (2, 2), (0, 4), (4, 1), (3, 0), (4, 4)])
def test_hard_master_gates_give_the_piecewise_cases(mode, d_f, d_i, gen):
    n, chunk = 5, 3
    cell = _hard_cell(mode, d_f, d_i, gen, n=n, chunk=chunk)
    x = torch.randn(2, 4, generator=gen, dtype=D)
    h = torch.randn(2, n * chunk, generator=gen, dtype=D)
    c_prev = torch.randn(2, n * chunk, generator=gen, dtype=D)
    (_, c), (mf, mi) = cell(x, (h, c_prev), return_master=True)
    f, i, c_hat = _lstm_parts(cell, x, h, c_prev)
    # the input is written to the levels below `top` (paper: k < d_i; Su's variant: k ≤ d_i);
    # history is kept from level d_f up.
    top = d_i if mode == "paper" else d_i + 1
    level = torch.arange(n * chunk) // chunk  # level of each neuron
    assert torch.equal(mf, (torch.arange(n) >= d_f).to(D).expand(2, n))
    assert torch.equal(mi, (torch.arange(n) < top).to(D).expand(2, n))
    expected = torch.empty_like(c_prev)
    if d_f < top:  # Su's case d_f ≤ d_i: [ĉ | LSTM | c_prev]
        new, mix, old = level < d_f, (level >= d_f) & (level < top), level >= top
        expected[:, mix] = f[:, mix] * c_prev[:, mix] + i[:, mix] * c_hat[:, mix]
        expected[:, new] = c_hat[:, new]
        expected[:, old] = c_prev[:, old]
    else:  # Su's case d_f > d_i: [ĉ | 0 | c_prev]
        new, gap, old = level < top, (level >= top) & (level < d_f), level >= d_f
        expected[:, new] = c_hat[:, new]
        expected[:, gap] = 0.0
        expected[:, old] = c_prev[:, old]
    torch.testing.assert_close(c, expected, rtol=0, atol=1e-15)


# ---------------------------------------------------------------- equivalence with nn.LSTMCell
def _copy_into_lstm(cell):
    n, H = cell.n_chunk, cell.hidden_size
    lstm = torch.nn.LSTMCell(cell.input_size, H, dtype=D)
    with torch.no_grad():
        lstm.weight_ih.copy_(cell.weight_ih[2 * n:])
        lstm.weight_hh.copy_(cell.weight_hh[2 * n:])
        lstm.bias_ih.copy_(cell.bias_ih[2 * n:])
        lstm.bias_hh.copy_(cell.bias_hh[2 * n:])
    return lstm


@pytest.mark.parametrize("mode", ["paper", "symmetric"])
def test_all_ones_master_gates_equal_lstm_cell(mode, gen):
    torch.manual_seed(0)
    cell = ONLSTMCell(6, 12, chunk_size=4, master_input=mode, dtype=D)
    lstm = _copy_into_lstm(cell)
    x = torch.randn(5, 6, generator=gen, dtype=D)
    hx = (torch.randn(5, 12, generator=gen, dtype=D), torch.randn(5, 12, generator=gen, dtype=D))
    ones = torch.ones(5, cell.n_chunk, dtype=D)
    h, c = cell(x, hx, master=(ones, ones))
    h2, c2 = lstm(x, hx)
    torch.testing.assert_close(h, h2, rtol=0, atol=1e-12)
    torch.testing.assert_close(c, c2, rtol=0, atol=1e-12)


def test_symmetric_gate_logits_can_open_everything(gen):
    # Su's variant reaches ĩ ≡ 1 from logits (one-hot at the last level), the paper's cannot
    # (its last level is always 0): then the cell is nn.LSTMCell through its own gate path.
    n, chunk = 3, 4
    cell = _hard_cell("symmetric", 0, n - 1, gen, n=n, chunk=chunk, inp=6)
    lstm = _copy_into_lstm(cell)
    x = torch.randn(5, 6, generator=gen, dtype=D)
    hx = (torch.randn(5, 12, generator=gen, dtype=D), torch.randn(5, 12, generator=gen, dtype=D))
    for a, b in zip(cell(x, hx), lstm(x, hx)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    _, (_, mi) = _hard_cell("paper", 0, n - 1, gen, n=n, chunk=chunk, inp=6)(
        x, hx, return_master=True)
    assert (mi[:, -1] == 0).all()


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("mode", ["paper", "symmetric"])
def test_cell_gradcheck(mode, gen):
    cell = ONLSTMCell(3, 6, chunk_size=2, master_input=mode, dtype=D)
    x = torch.randn(2, 3, generator=gen, dtype=D, requires_grad=True)
    h = torch.randn(2, 6, generator=gen, dtype=D, requires_grad=True)
    c = torch.randn(2, 6, generator=gen, dtype=D, requires_grad=True)
    w = cell.weight_hh
    assert torch.autograd.gradcheck(lambda x, h, c, w: cell(x, (h, c)), (x, h, c, w))


@pytest.mark.parametrize("backend", ["auto", "python"])  # auto: the C++ loop where built
@pytest.mark.parametrize("symmetric", [False, True])
def test_fused_layer_gradcheck_and_matches_autograd(symmetric, backend, gen):
    T, B, H, n = 3, 2, 6, 3
    G = 2 * n + 4 * H
    xp = torch.randn(T, B, G, generator=gen, dtype=D, requires_grad=True)
    w = (0.5 * torch.randn(G, H, generator=gen, dtype=D)).requires_grad_()
    h0 = torch.randn(B, H, generator=gen, dtype=D, requires_grad=True)
    c0 = torch.randn(B, H, generator=gen, dtype=D, requires_grad=True)
    args = (xp, w, h0, c0)
    assert torch.autograd.gradcheck(lambda *a: onlstm_layer(*a, n, symmetric, backend=backend),
                                    args)
    out1 = onlstm_layer(*args, n, symmetric, backend=backend)
    out2 = layer_reference(*args, n, symmetric)
    weights = [torch.randn(o.shape, generator=gen, dtype=D) for o in out1]
    g1 = torch.autograd.grad(sum((o * v).sum() for o, v in zip(out1, weights)), args)
    g2 = torch.autograd.grad(sum((o * v).sum() for o, v in zip(out2, weights)), args)
    for a, b in zip(out1, out2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- the ONLSTM module
@pytest.mark.parametrize("mode", ["paper", "symmetric"])
def test_onlstm_fused_equals_autograd_impl_with_grads(mode, gen):
    torch.manual_seed(1)
    fused = ONLSTM(5, 8, 2, chunk_size=2, master_input=mode, dtype=D)
    ref = ONLSTM(5, 8, 2, chunk_size=2, master_input=mode, impl="autograd", dtype=D)
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(6, 3, 5, generator=gen, dtype=D)
    outs = [m(x, return_distances=True) for m in (fused, ref)]
    (o1, (h1, c1), d1), (o2, (h2, c2), d2) = outs
    for a, b in [(o1, o2), (h1, h2), (c1, c2), (d1.forget, d2.forget), (d1.input, d2.input)]:
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    (o1.sum() + c1.square().sum() + d1.forget.sum()).backward()
    (o2.sum() + c2.square().sum() + d2.forget.sum()).backward()
    for (name, p1), p2 in zip(fused.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=0, atol=1e-12, msg=name)


def test_onlstm_is_a_drop_in_for_nn_lstm(gen):
    m = ONLSTM(4, 6, 3, chunk_size=3, dtype=D)
    lstm = torch.nn.LSTM(4, 6, 3, dtype=D)
    x = torch.randn(7, 2, 4, generator=gen, dtype=D)
    out, (h, c) = m(x)
    out2, (h2, c2) = lstm(x)
    assert out.shape == out2.shape and h.shape == h2.shape and c.shape == c2.shape
    torch.testing.assert_close(out[-1], h[-1], rtol=0, atol=0)
    # batch-first and unbatched inputs give the same numbers
    mb = ONLSTM(4, 6, 3, chunk_size=3, batch_first=True, dtype=D)
    mb.load_state_dict(m.state_dict())
    outb, (hb, _), db = mb(x.transpose(0, 1), return_distances=True)
    torch.testing.assert_close(outb.transpose(0, 1), out, rtol=0, atol=1e-14)
    _, _, d = m(x, return_distances=True)
    assert d.forget.shape == (3, 7, 2) and db.forget.shape == (3, 2, 7)
    torch.testing.assert_close(db.forget.transpose(1, 2), d.forget, rtol=0, atol=1e-14)
    outu, (hu, cu), du = m(x[:, 0], return_distances=True)
    torch.testing.assert_close(outu, out[:, 0], rtol=0, atol=1e-14)
    assert hu.shape == (3, 6) and du.forget.shape == (3, 7)
    assert ((d.forget >= 0) & (d.forget <= 1) & (d.input >= 0) & (d.input <= 1)).all()
    # continuing from (h, c) equals running the whole sequence
    o_a, hx = m(x[:4])
    o_b, _ = m(x[4:], hx)
    torch.testing.assert_close(torch.cat([o_a, o_b]), out, rtol=0, atol=1e-14)


def test_dropout_uses_the_given_generator(gen):
    m = ONLSTM(3, 4, 2, chunk_size=2, dropout=0.5, dtype=D)
    x = torch.randn(5, 2, 3, generator=gen, dtype=D)
    a = m(x, generator=torch.Generator().manual_seed(3))[0]
    b = m(x, generator=torch.Generator().manual_seed(3))[0]
    c = m(x, generator=torch.Generator().manual_seed(4))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    m.eval()
    assert torch.equal(m(x)[0], m(x)[0])


# ---------------------------------------------------------------- bad input
def test_bad_input_is_rejected_with_a_fix():
    with pytest.raises(ValueError, match="multiple of chunk_size.*chunk_size=5"):
        ONLSTMCell(3, 10, chunk_size=4)
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        ONLSTM(3, 10, chunk_size=3)
    with pytest.raises(ValueError, match="master_input must be one of"):
        ONLSTM(3, 8, chunk_size=2, master_input="su")
    with pytest.raises(ValueError, match="positive int"):
        ONLSTMCell(0, 8, chunk_size=2)
    m = ONLSTM(3, 8, chunk_size=2)
    with pytest.raises(ValueError, match="3-D"):
        m(torch.zeros(2, 3, 4, 3))
    with pytest.raises(ValueError, match="3-D"):
        m(torch.zeros(3))
    with pytest.raises(ValueError, match="input_size=3"):
        m(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="empty sequence"):
        m(torch.zeros(0, 2, 3))
    with pytest.raises(ValueError, match="h_0 must have shape"):
        m(torch.zeros(5, 2, 3), (torch.zeros(1, 3, 8), torch.zeros(1, 3, 8)))
    cell = ONLSTMCell(3, 8, chunk_size=2)
    with pytest.raises(ValueError, match="2-D"):
        cell(torch.zeros(4, 2, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        cell([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="gate must be"):
        syntactic_distance(torch.zeros(2, 3), gate="output")
