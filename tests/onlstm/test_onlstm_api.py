"""ONLSTM as a drop-in for nn.LSTM (issue 15): constructor, defaults, batch_first, PackedSequence,
nn.LSTM's state shapes, and clear errors for input nn.LSTM users may pass by mistake."""

import pytest
import torch
from torch.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)

from kexue.onlstm import ONLSTM, ONLSTMCell, cumax, default_chunk_size

D = torch.float64


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


# ---------------------------------------------------------------- constructor and defaults
@pytest.mark.parametrize("hidden, chunk", [(1150, 10), (512, 8), (400, 10), (650, 10),
                                           (128, 8), (12, 6), (8, 4), (7, 1), (2, 1), (1, 1)])
def test_default_chunk_size_is_the_papers_10_or_the_largest_divisor_below(hidden, chunk):
    assert default_chunk_size(hidden) == chunk
    assert hidden % chunk == 0
    assert hidden == 1 or hidden // chunk >= 2  # at least two levels
    assert ONLSTM(3, hidden).chunk_size == chunk
    assert ONLSTMCell(3, hidden).chunk_size == chunk


def test_default_chunk_size_is_maximal():
    for hidden in range(1, 200):
        c = default_chunk_size(hidden)
        bigger = [d for d in range(c + 1, 11) if hidden % d == 0 and hidden // d >= 2]
        assert not bigger, (hidden, c, bigger)


def test_constructor_takes_nn_lstm_arguments_positionally_and_by_name():
    args = (4, 6, 2, False, True, 0.25)  # input, hidden, layers, bias, batch_first, dropout
    lstm, m = torch.nn.LSTM(*args), ONLSTM(*args)
    for name in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                 "bidirectional", "proj_size"):
        assert getattr(m, name) == getattr(lstm, name), name
    assert all(c.bias_ih is None for c in m.cells)
    kw = {"num_layers": 3, "bias": True, "batch_first": False, "dropout": 0.0,
          "bidirectional": False, "proj_size": 0, "device": "cpu", "dtype": D}
    m = ONLSTM(4, 6, **kw)
    assert m.num_layers == 3 and m.cells[0].weight_hh.dtype == D
    m.flatten_parameters()  # nn.LSTM users call it; a no-op here
    cell = ONLSTMCell(4, 6, False, None, D)  # nn.LSTMCell's order: bias, device, dtype
    assert cell.bias_ih is None and cell.weight_hh.dtype == D and cell.chunk_size == 3


def test_unsupported_nn_lstm_options_are_refused_with_the_alternative():
    with pytest.raises(ValueError, match="bidirectional=True is not supported.*torch.flip"):
        ONLSTM(4, 6, bidirectional=True)
    with pytest.raises(ValueError, match="proj_size must be 0"):
        ONLSTM(4, 6, proj_size=3)
    with pytest.raises(ValueError, match="dropout must be"):
        ONLSTM(4, 6, 2, dropout=1.0)


@pytest.mark.parametrize("batch_first", [False, True])
def test_state_shapes_follow_nn_lstm(batch_first, gen):
    m = ONLSTM(4, 6, 3, batch_first=batch_first, dtype=D)
    lstm = torch.nn.LSTM(4, 6, 3, batch_first=batch_first, dtype=D)
    x = torch.randn(2, 5, 4, generator=gen, dtype=D)
    hx = (torch.randn(3, 2 if batch_first else 5, 6, generator=gen, dtype=D),) * 2
    for inp, h in ((x, None), (x, hx), (x[0], None), (x[0], (hx[0][:, 0], hx[1][:, 0]))):
        out, (h_n, c_n) = m(inp, h)
        out2, (h2, c2) = lstm(inp, h)
        assert out.shape == out2.shape and h_n.shape == h2.shape and c_n.shape == c2.shape


# ---------------------------------------------------------------- batch_first
@pytest.mark.parametrize("impl", ["fused", "autograd"])
def test_batch_first_gives_the_same_numbers_transposed(impl, gen):
    torch.manual_seed(0)
    m = ONLSTM(4, 6, 2, chunk_size=3, impl=impl, dtype=D)
    mb = ONLSTM(4, 6, 2, batch_first=True, chunk_size=3, impl=impl, dtype=D)
    mb.load_state_dict(m.state_dict())
    x = torch.randn(7, 3, 4, generator=gen, dtype=D)
    hx = (torch.randn(2, 3, 6, generator=gen, dtype=D), torch.randn(2, 3, 6, generator=gen,
                                                                    dtype=D))
    out, (h, c), d = m(x, hx, return_distances=True)
    outb, (hb, cb), db = mb(x.transpose(0, 1).contiguous(), hx, return_distances=True)
    assert torch.equal(outb.transpose(0, 1), out)
    assert torch.equal(hb, h) and torch.equal(cb, c)
    assert torch.equal(db.forget.transpose(1, 2), d.forget)
    assert torch.equal(db.input.transpose(1, 2), d.input)


# ---------------------------------------------------------------- PackedSequence
def _alone(m, seq, k, hx):
    """Run sequence ``k`` of a batch alone at its own length: output (len, H), h, c (L, H)."""
    h = None if hx is None else (hx[0][:, k:k + 1], hx[1][:, k:k + 1])
    out, (h_n, c_n), d = m(seq.unsqueeze(1), h, return_distances=True)
    return out[:, 0], h_n[:, 0], c_n[:, 0], d.forget[:, :, 0], d.input[:, :, 0]


@pytest.mark.parametrize("impl", ["fused", "autograd"])
@pytest.mark.parametrize("mode", ["paper", "symmetric"])
@pytest.mark.parametrize("with_hx", [False, True])
def test_packed_sequence_equals_each_sequence_alone(impl, mode, with_hx, gen):
    torch.manual_seed(0)
    m = ONLSTM(3, 8, 2, chunk_size=2, master_input=mode, impl=impl, dtype=D)
    lengths = [4, 7, 2, 7, 1, 4]  # unsorted, repeated lengths, a length-1 sequence
    seqs = [torch.randn(n, 3, generator=gen, dtype=D) for n in lengths]
    B = len(seqs)
    hx = None
    if with_hx:
        hx = (torch.randn(2, B, 8, generator=gen, dtype=D),
              torch.randn(2, B, 8, generator=gen, dtype=D))
    packed = pack_sequence(seqs, enforce_sorted=False)
    out, (h_n, c_n), dist = m(packed, hx, return_distances=True)
    assert isinstance(out, PackedSequence)
    assert torch.equal(out.batch_sizes, packed.batch_sizes)
    assert torch.equal(out.sorted_indices, packed.sorted_indices)
    assert torch.equal(out.unsorted_indices, packed.unsorted_indices)
    assert h_n.shape == c_n.shape == (2, B, 8)
    padded, lens = pad_packed_sequence(out)  # (T, B, H), caller's order
    assert lens.tolist() == lengths
    assert dist.forget.shape == dist.input.shape == (2, 7, B)
    for k, seq in enumerate(seqs):
        o, h, c, d_f, d_i = _alone(m, seq, k, hx)
        n = len(seq)
        torch.testing.assert_close(padded[:n, k], o, rtol=0, atol=1e-12)
        torch.testing.assert_close(h_n[:, k], h, rtol=0, atol=1e-12)
        torch.testing.assert_close(c_n[:, k], c, rtol=0, atol=1e-12)
        torch.testing.assert_close(dist.forget[:, :n, k], d_f, rtol=0, atol=1e-12)
        torch.testing.assert_close(dist.input[:, :n, k], d_i, rtol=0, atol=1e-12)
        assert (dist.forget[:, n:, k] == 0).all() and (padded[n:, k] == 0).all()


def test_packed_gradients_equal_the_sum_over_sequences_alone(gen):
    torch.manual_seed(0)
    m = ONLSTM(3, 6, 2, chunk_size=3, dtype=D)
    seqs = [torch.randn(n, 3, generator=gen, dtype=D, requires_grad=True) for n in (5, 2, 5, 3)]
    h0 = torch.randn(2, 4, 6, generator=gen, dtype=D, requires_grad=True)
    c0 = torch.randn(2, 4, 6, generator=gen, dtype=D, requires_grad=True)
    wo = torch.randn(6, generator=gen, dtype=D)
    out, (h_n, c_n) = m(pack_sequence(seqs, enforce_sorted=False), (h0, c0))
    loss = (out.data @ wo).sum() + h_n.square().sum() + (c_n * 0.5).sum()
    params = [*m.parameters()]
    g_packed = torch.autograd.grad(loss, params + seqs + [h0, c0])
    loss2 = 0
    for k, s in enumerate(seqs):
        o, (h, c) = m(s.unsqueeze(1), (h0[:, k:k + 1], c0[:, k:k + 1]))
        loss2 = loss2 + (o @ wo).sum() + h.square().sum() + (c * 0.5).sum()
    g_alone = torch.autograd.grad(loss2, params + seqs + [h0, c0])
    for a, b in zip(g_packed, g_alone):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_packed_equal_lengths_equals_the_tensor_path_and_sorted_packing(gen):
    m = ONLSTM(3, 8, 2, batch_first=True, dtype=D)
    x = torch.randn(4, 5, 3, generator=gen, dtype=D)  # batch first
    out, (h, c) = m(x)
    po, (ph, pc) = m(pack_padded_sequence(x, [5] * 4, batch_first=True))
    torch.testing.assert_close(pad_packed_sequence(po, batch_first=True)[0], out, rtol=0,
                               atol=1e-12)
    torch.testing.assert_close(ph, h, rtol=0, atol=1e-12)
    torch.testing.assert_close(pc, c, rtol=0, atol=1e-12)
    # pre-sorted packing (no indices) from a padded batch
    lengths = [5, 3, 3, 1]
    po, (ph, _) = m(pack_padded_sequence(x, lengths, batch_first=True))
    assert po.sorted_indices is None and ph.shape == (2, 4, 8)
    for k, n in enumerate(lengths):
        _, (hk, _) = m(x[k:k + 1, :n])
        torch.testing.assert_close(ph[:, k], hk[:, 0], rtol=0, atol=1e-12)


def test_packed_dropout_follows_the_generator(gen):
    m = ONLSTM(3, 4, 2, dropout=0.5, dtype=D)
    packed = pack_sequence([torch.randn(n, 3, generator=gen, dtype=D) for n in (3, 5, 1)],
                           enforce_sorted=False)
    a = m(packed, generator=torch.Generator().manual_seed(3))[0].data
    b = m(packed, generator=torch.Generator().manual_seed(3))[0].data
    c = m(packed, generator=torch.Generator().manual_seed(4))[0].data
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_code_written_for_nn_lstm_runs_unchanged(gen):
    """A typical padded-batch encoder (pack, run, unpack, last states) with either module."""

    def encode(rnn, batch, lengths):
        rnn.flatten_parameters()
        packed = pack_padded_sequence(batch, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=batch.shape[1])
        return out, h[-1]

    seqs = [torch.randn(n, 5, generator=gen) for n in (3, 6, 4)]
    batch = pad_sequence(seqs, batch_first=True)
    lengths = torch.tensor([3, 6, 4])
    for rnn in (torch.nn.LSTM(5, 16, 2, batch_first=True), ONLSTM(5, 16, 2, batch_first=True)):
        out, last = encode(rnn, batch, lengths)
        assert out.shape == (3, 6, 16) and last.shape == (3, 16)
        assert (out[0, 3:] == 0).all()
        torch.testing.assert_close(last[1], out[1, 5])  # the last state is at each own length
        torch.testing.assert_close(last[0], out[0, 2])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_integer_and_bool_tensors_are_a_type_error_naming_the_fix(dtype):
    x = torch.ones(4, 2, 3, dtype=dtype)
    with pytest.raises(TypeError, match=rf"dtype {dtype}.*\.float\(\)"):
        cumax(x)
    with pytest.raises(TypeError, match=rf"dtype {dtype}.*\.float\(\)"):
        ONLSTM(3, 8)(x)
    with pytest.raises(TypeError, match=rf"dtype {dtype}"):
        ONLSTMCell(3, 8)(x[0])
    with pytest.raises(TypeError, match=rf"dtype {dtype}"):
        ONLSTM(3, 8)(pack_sequence([x[:, 0], x[:2, 1]]))


def test_wrong_sizes_and_dtypes_name_expected_and_got(gen):
    m = ONLSTM(3, 8, 2)
    with pytest.raises(ValueError, match="input has 4 features.*input_size=3"):
        m(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"input_size=3\); got shape \(6, 4\)"):
        m(pack_sequence([torch.zeros(4, 4), torch.zeros(2, 4)]))
    with pytest.raises(TypeError, match="float64 but this ONLSTM's parameters are torch.float32"):
        m(torch.zeros(5, 2, 3, dtype=D))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 2, 8\); got \(1, 2, 8\)"):
        m(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8)))
    with pytest.raises(TypeError, match="tuple"):
        m(torch.zeros(5, 2, 3), torch.zeros(2, 2, 8))


def test_meta_device_gives_shapes_or_a_clear_error():
    m = ONLSTM(3, 8, 2)
    with pytest.raises(ValueError, match="input is on device meta.*parameters are on cpu"):
        m(torch.zeros(5, 2, 3, device="meta"))
    meta = ONLSTM(3, 8, 2, device="meta")  # shape inference, as nn.LSTM on meta
    out, (h, c) = meta(torch.zeros(5, 2, 3, device="meta"))
    assert out.device.type == "meta" and out.shape == (5, 2, 8) and h.shape == (2, 2, 8)


@pytest.mark.gpu
def test_packed_sequence_on_cuda_equals_the_cpu(gen):
    torch.manual_seed(0)
    m = ONLSTM(3, 8, 2, dtype=D)
    seqs = [torch.randn(n, 3, generator=gen, dtype=D) for n in (4, 6, 2)]
    packed = pack_sequence(seqs, enforce_sorted=False)
    hx = (torch.randn(2, 3, 8, generator=gen, dtype=D), torch.randn(2, 3, 8, generator=gen,
                                                                    dtype=D))
    out, (h, c) = m(packed, hx)
    out_g, (h_g, c_g) = m.cuda()(packed.to("cuda"), tuple(t.cuda() for t in hx))
    assert out_g.data.device.type == "cuda"
    for a, b in ((out.data, out_g.data), (h, h_g), (c, c_g)):
        torch.testing.assert_close(b.cpu(), a, rtol=0, atol=1e-12)
