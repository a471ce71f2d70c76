"""The one training loop. It knows nothing about any particular strategy; strategies act only through their hooks.

seed everything; model = strategy.prepare_model(model)
optimiser over strategy.param_groups (frozen parameters get no gradient, hence no update)
phases ← the epochs over which strategy.trainable(epoch) stays the same (G-LF: one per block; FT: one)
for epoch in 1..epochs:
    requires_grad ← strategy.trainable(epoch)          # the one place trainability is decided
    (a new phase restarts early-stopping patience; with train.checkpoint: final-phase, the final phase also
     restarts the search for the best state, and early stopping waits for it)
    strategy.on_epoch_start(epoch)
    for batch: loss = task loss + strategy.extra_loss; backward; strategy.before_step; step
               (a NaN or infinite loss stops the cell here, naming the epoch and step)
    validate → monitor; scheduler step; keep the best state; early stopping (patience, delta)
restore the best state; evaluate the test split there
"""

from suite.train.device import pick_device, place_data, seed_everything
from suite.train.evaluate import evaluate, predict
from suite.train.loop import FitOutcome, Progress, fit
from suite.train.optim import build_optimizer, build_scheduler
from suite.train.phases import Monitor, Phases

__all__ = [
    "FitOutcome",
    "Monitor",
    "Phases",
    "Progress",
    "build_optimizer",
    "build_scheduler",
    "evaluate",
    "fit",
    "pick_device",
    "place_data",
    "predict",
    "seed_everything",
]
