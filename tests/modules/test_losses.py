"""The heads' losses (`multimolecule.modules.losses`) against torch's own, on masked positions and ignored labels."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F
from transformers import PretrainedConfig

from multimolecule.modules.losses import prediction_loss

GENERATOR = torch.Generator().manual_seed(0)
LOGITS = torch.randn(2, 5, 3, generator=GENERATOR)  # (batch, positions, num_labels)
MASK = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)  # real positions


def config(num_labels: int, problem_type: str | None = None) -> PretrainedConfig:
    return PretrainedConfig(num_labels=num_labels, problem_type=problem_type)


def test_single_label_is_torchs_cross_entropy_with_ignore_index():
    labels = torch.tensor([[2, -100, 0, 1, 2], [1, 0, 2, -100, 1]])  # past the mask: labels that must not count
    ignored = labels.masked_fill(~MASK, -100)
    expected = F.cross_entropy(LOGITS.flatten(0, 1), ignored.flatten(), ignore_index=-100)
    torch.testing.assert_close(prediction_loss(LOGITS, labels, MASK, config(3)), expected)
    summed = F.cross_entropy(LOGITS.flatten(0, 1), ignored.flatten(), ignore_index=-100, reduction="sum")
    torch.testing.assert_close(prediction_loss(LOGITS, labels, MASK, config(3), num_items_in_batch=9), summed / 9)


def test_regression_one_target_or_one_per_label():
    one = torch.tensor([[0.5, -100, 1.5, 2.0, 7.0], [-1.0, 0.25, 3.0, -100, 1.0]])
    keep = MASK & (one != -100)
    expected = F.mse_loss(LOGITS[..., :1].squeeze(-1)[keep], one[keep])
    torch.testing.assert_close(prediction_loss(LOGITS[..., :1], one, MASK, config(1)), expected)
    several = torch.randn(2, 5, 3, generator=GENERATOR)
    several[0, 1, 2] = several[1, 0, 0] = -100  # single values ignored, not whole positions
    keep = MASK[..., None] & (several != -100)
    expected = F.mse_loss(LOGITS[keep], several[keep])
    torch.testing.assert_close(prediction_loss(LOGITS, several, MASK, config(3, "regression")), expected)


def test_multi_label_is_torchs_binary_cross_entropy_on_the_labelled_values():
    labels = torch.randint(0, 2, (2, 5, 3), generator=GENERATOR).float()
    labels[0, 0, 1] = labels[1, 1, 2] = -100
    keep = MASK[..., None] & (labels != -100)
    weight = keep.float()  # torch's own: the ignored values weighted 0, the mean over the rest
    expected = F.binary_cross_entropy_with_logits(LOGITS, labels.clamp(min=0), weight=weight, reduction="sum")
    actual = prediction_loss(LOGITS, labels, MASK, config(3))
    torch.testing.assert_close(actual, expected / keep.sum())


@pytest.mark.parametrize(
    "num_labels, labels, problem_type",
    [
        (1, torch.zeros(2, 5), "regression"),
        (3, torch.zeros(2, 5, dtype=torch.long), "single_label_classification"),
        (3, torch.zeros(2, 5, 3), "multi_label_classification"),
    ],
)
def test_an_unset_problem_type_is_inferred_as_transformers_does(num_labels, labels, problem_type):
    settings = config(num_labels)
    prediction_loss(LOGITS[..., :num_labels], labels, MASK, settings)
    assert settings.problem_type == problem_type


def test_an_unknown_problem_type_is_one_line():
    settings = SimpleNamespace(num_labels=3, problem_type="ranking")  # a config transformers would not build
    with pytest.raises(ValueError, match="problem_type must be one of .*got 'ranking'") as error:
        prediction_loss(LOGITS, torch.zeros(2, 5, dtype=torch.long), MASK, settings)
    assert "\n" not in str(error.value)
