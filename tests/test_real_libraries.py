"""patch_torch with real training libraries, unmodified: Lightning's Trainer (seed_everything,
its sanity check's isolate_rng) and transformers' Trainer (a checkpoint's RNG state on resume)
give the same numbers as a straight run, and never touch torch's own generator."""
from __future__ import annotations

import logging
import warnings

import pytest
import torch

import keystream as ks


def _data(n: int = 32) -> torch.utils.data.TensorDataset:
    g = ks.Generator(99)
    return torch.utils.data.TensorDataset(ks.randn(n, 8, generator=g), ks.randn(n, 1, generator=g))


def test_lightning_trainer_losses_do_not_depend_on_the_sanity_check(patched, tmp_path):
    """Lightning's sanity check runs validation inside isolate_rng (get / set_rng_state): under
    the patch the training that follows draws the same masks and order with and without it."""
    pl = pytest.importorskip("lightning.pytorch")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    class Model(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1))
            self.losses: list[float] = []

        def training_step(self, batch, _):  # type: ignore[no-untyped-def]
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.losses.append(loss.item())
            return loss

        def validation_step(self, batch, _):  # type: ignore[no-untyped-def]
            torch.rand(3)  # (a draw inside the sanity check: isolate_rng must undo it)
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def run(sanity: int) -> list[float]:
        pl.seed_everything(42, verbose=False)
        ks.patch_torch()
        model = Model()
        loader = torch.utils.data.DataLoader(_data(), batch_size=4, shuffle=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = pl.Trainer(max_epochs=2, num_sanity_val_steps=sanity, logger=False, enable_checkpointing=False,
                                 enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                                 default_root_dir=tmp_path)
            trainer.fit(model, loader, torch.utils.data.DataLoader(_data(8), batch_size=4))
        ks.unpatch_torch()
        return model.losses

    without, with_sanity = run(0), run(2)
    assert len(without) == 16 and without == with_sanity


def test_transformers_trainer_resume_equals_a_straight_run(patched, tmp_path):
    """transformers' Trainer saves torch.get_rng_state() in its checkpoints and restores it on
    resume: under the patch that is keystream's state too, so 3 + 3 steps equal 6."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    transformers.logging.set_verbosity_error()

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1))

        def forward(self, x, labels):  # type: ignore[no-untyped-def]
            return {"loss": torch.nn.functional.mse_loss(self.net(x), labels)}

    class Data(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.rows = _data()

        def __len__(self) -> int:
            return len(self.rows)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            x, y = self.rows[i]
            return {"x": x, "labels": y}

    def trainer(out: str, steps: int) -> object:
        transformers.set_seed(0)
        ks.patch_torch()
        args = transformers.TrainingArguments(output_dir=out, max_steps=steps, save_steps=3,
                                              per_device_train_batch_size=4, learning_rate=0.1, report_to=[],
                                              use_cpu=True, seed=0, dataloader_num_workers=0, logging_steps=1000,
                                              disable_tqdm=True)
        return transformers.Trainer(model=Model(), args=args, train_dataset=Data())

    straight = trainer(str(tmp_path / "straight"), 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        straight.train()
    want = [p.detach().clone() for p in straight.model.parameters()]
    ks.unpatch_torch()
    resumed = trainer(str(tmp_path / "straight"), 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed.train(resume_from_checkpoint=str(tmp_path / "straight" / "checkpoint-3"))
    got = [p.detach() for p in resumed.model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(want, got))
