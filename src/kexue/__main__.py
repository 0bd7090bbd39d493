"""``python -m kexue ...``: the ``kexue`` command (the same ``main`` as the console script), so
``torchrun --nproc-per-node N -m kexue reproduce NAME`` runs kexue on N processes."""

from .cli import main

if __name__ == "__main__":
    main()
