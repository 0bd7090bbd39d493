"""Virtual adversarial training (VAT) inside a plain PyTorch training loop.

Shows: ``kexue.regularize.vat_loss`` added to a cross-entropy loss in an ordinary loop, on the
8×8 digits of ``kexue.data.digits`` (bundled with scikit-learn; nothing is downloaded).
Article: Su Jianlin on generalisation, from input noise to adversarial training and VAT
(kexue.fm archive 7466; VAT is Miyato et al., arXiv:1704.03976).

Semi-supervised set-up: only ``n_labelled`` training images keep their labels; the VAT term
``KL(p(·|x) ‖ p(·|x + ε d_adv))`` needs no labels and is applied to a batch of all training
images. The check: test accuracy after training is above 80 % (a model that does not learn is
at 10 %). Run ``python examples/vat_training_loop.py [--fast]``.
"""

import argparse

import torch
from torch import nn

from kexue.data import digits
from kexue.regularize import vat_loss

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fast", action="store_true", help="fewer training steps")
parser.add_argument("--seed", type=int, default=0, help="random seed")
args = parser.parse_args()
steps = 60 if args.fast else 200
n_labelled, batch, alpha, eps = 200, 128, 1.0, 2.0

data = digits()  # x_train (N, 64) in [-1, 1], y_train (N,) int64; fixed split
gen = torch.Generator().manual_seed(args.seed)
labelled = torch.randperm(len(data.x_train), generator=gen)[:n_labelled]
x_lab, y_lab = data.x_train[labelled], data.y_train[labelled]

torch.manual_seed(args.seed)  # initialisation
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(1, steps + 1):
    model.train()
    ce = nn.functional.cross_entropy(model(x_lab), y_lab)
    unlabelled = data.x_train[torch.randint(len(data.x_train), (batch,), generator=gen)]
    # VAT: one power iteration finds the KL-worst direction; eps is an L2 norm in pixel units.
    lds = vat_loss(model, unlabelled, eps=eps, n_power=1, generator=gen)
    loss = ce + alpha * lds
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % (steps // 5) == 0:
        print(f"step {step:4d}  cross-entropy {ce.item():.4f}  VAT {lds.item():.4f}")

model.eval()
with torch.no_grad():
    acc = (model(data.x_test).argmax(1) == data.y_test).double().mean().item()
print(f"test accuracy with {n_labelled} labels + VAT: {acc:.3f} ({len(data.y_test)} images)")
assert acc > 0.80, f"test accuracy {acc:.3f} is not above 0.80"
print("CHECK OK: test accuracy above 0.80")
