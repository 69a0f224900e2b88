"""The heads of both model families with the ecosystem's tools: Trainer and PEFT LoRA; and base
resolution that sees each base (the token-classification pipeline: tests/test_pipelines.py).

Real DNA: windows of the E. coli K-12 regions in the bundled example FASTA; the bundled demo models.
"""

from __future__ import annotations

import pytest
import torch
from transformers import (
    AutoModelForMaskedLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
    NucleotideTransformerConfig,
    NucleotideTransformerForTokenPrediction,
    NucleotideTransformerTokenizer,
)
from multimolecule.demo import EXAMPLE_FASTA, demo_model_path
from multimolecule.models import MODELS
from multimolecule.modules import locate_bases
from multimolecule.seqio import read_sequences

from ..helpers import DEMOS

WINDOW = 48
COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}


@pytest.fixture(scope="module")
def windows() -> list[str]:
    """Non-overlapping 48-base windows of real E. coli DNA."""
    dna = "".join(read_sequences(EXAMPLE_FASTA).values())
    return [dna[start : start + WINDOW] for start in range(0, len(dna) - WINDOW + 1, WINDOW)]


def gc(text: str) -> list[int]:
    return [int(base in "GC") for base in text]


def pairs(text: str) -> list[list[int]]:
    """1 where two bases could pair (A-T, C-G), else 0."""
    return [[int(COMPLEMENT.get(a) == b) for b in text] for a in text]


def features(tokenizer, texts: list[str], head: str) -> list[dict]:
    """Tokenized examples with the labels of `head`; every window has the same number of bases, so the per-base
    labels have one length and transformers' `DataCollatorWithPadding` batches them."""
    labels = {
        "masked_lm": lambda text: None,
        "sequence": lambda text: int(sum(gc(text)) > WINDOW // 2),
        "token": gc,
        "contact": pairs,
    }[head]
    examples = []
    for text in texts:
        example = dict(tokenizer(text))
        if head != "masked_lm":
            example["labels"] = labels(text)
        examples.append(example)
    return examples


MODEL_CLASSES = {
    "masked_lm": AutoModelForMaskedLM,
    "sequence": AutoModelForSequencePrediction,
    "token": AutoModelForTokenPrediction,
    "contact": AutoModelForContactPrediction,
}


@pytest.mark.parametrize("head", list(MODEL_CLASSES))
@pytest.mark.parametrize("demo", DEMOS)
def test_every_head_trains_with_trainer(demo, head, windows, tmp_path):
    path = demo_model_path(demo)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = MODEL_CLASSES[head].from_pretrained(path, **({} if head == "masked_lm" else {"num_labels": 2}))
    if head == "masked_lm":
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.3, seed=0)
    else:
        collator = DataCollatorWithPadding(tokenizer)
    train = features(tokenizer, windows[:8], head)
    torch.manual_seed(0)
    held = collator(train[:4])  # one fixed batch (and, for masked LM, one fixed masking) to measure the loss on

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return model(**held).loss.item()

    before = loss()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=3,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,  # Trainer passes num_items_in_batch, which the loss honours
        learning_rate=1e-4 if head == "masked_lm" else 1e-3,  # the pre-trained head only needs nudging
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collator)
    assert trainer.model_accepts_loss_kwargs
    trainer.train()
    after = loss()
    assert after < before, (before, after)


def test_loss_of_accumulated_batches_is_the_loss_of_one_batch(windows):
    """Summed over half-batches with `num_items_in_batch`, the loss is the full batch's loss (not a mean of means)."""
    path = demo_model_path("dnabert2-demo")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenPrediction.from_pretrained(path, num_labels=2).eval()
    texts = windows[:4]
    labels = torch.tensor([gc(text) for text in texts])
    labels[2:, 10:] = -100  # the second half has far fewer labelled bases
    labelled = (labels != -100).sum()
    with torch.no_grad():
        whole = model(**tokenizer(texts, padding=True, return_tensors="pt"), labels=labels).loss
        halves = [
            model(
                **tokenizer(texts[part], padding=True, return_tensors="pt"),
                labels=labels[part],
                num_items_in_batch=labelled,
            ).loss
            for part in (slice(0, 2), slice(2, 4))
        ]
    assert torch.allclose(sum(halves), whole, atol=1e-5)


@pytest.mark.parametrize("head", list(MODEL_CLASSES))
def test_batch_without_labels_gives_zero_loss(head, windows):
    path = demo_model_path("nt-demo")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = MODEL_CLASSES[head].from_pretrained(path, **({} if head == "masked_lm" else {"num_labels": 2}))
    batch = tokenizer(windows[:2], return_tensors="pt")
    shape = {
        "masked_lm": batch["input_ids"].shape,
        "sequence": (2,),
        "token": (2, WINDOW),
        "contact": (2, WINDOW, WINDOW),
    }[head]
    for num_items_in_batch in (None, 0):
        output = model(**batch, labels=torch.full(shape, -100), num_items_in_batch=num_items_in_batch)
        assert output.loss.item() == 0.0
        output.loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def one_prediction_per_token_ceiling(input_ids, attention_mask, labels, token_lengths) -> float:
    """The best per-base accuracy if all bases of a token got one prediction: each token's majority label."""
    located = locate_bases(input_ids, attention_mask, torch.tensor(token_lengths))
    counts = torch.zeros(input_ids.numel(), 2).index_put_(
        (located.token, labels[located.mask]), torch.ones(located.token.numel()), accumulate=True
    )
    return (counts.max(-1).values.sum() / located.mask.sum()).item()


def test_base_resolution_learns_labels_that_vary_inside_a_token(windows):
    """ "Is this base G or C" on held-out DNA, with a tiny from-scratch Nucleotide Transformer (6-mer tokens):
    the base embeddings take it far above what one prediction per token could reach."""
    torch.manual_seed(0)
    tokenizer = NucleotideTransformerTokenizer.standard()
    config = NucleotideTransformerConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=2
    )
    model = NucleotideTransformerForTokenPrediction(config)
    train, held_out = windows[:64], windows[-16:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(40):
        texts = train[(step * 8) % 64 : (step * 8) % 64 + 8]
        loss = model(**tokenizer(texts, return_tensors="pt"), labels=torch.tensor([gc(t) for t in texts])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    batch = tokenizer(held_out, return_tensors="pt")
    labels = torch.tensor([gc(text) for text in held_out])
    with torch.no_grad():
        accuracy = (model(**batch).logits.argmax(-1) == labels).float().mean().item()
    ceiling = one_prediction_per_token_ceiling(
        batch["input_ids"], batch["attention_mask"], labels, config.token_lengths
    )
    assert ceiling < 0.8 and accuracy > 0.95, (accuracy, ceiling)


def test_base_resolution_needs_token_bases():
    config = NucleotideTransformerConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2)
    config.token_bases = None
    with pytest.raises(ValueError, match="token_bases"):
        NucleotideTransformerForTokenPrediction(config)(torch.tensor([[3, 6, 4102]]))
    config.token_bases = ["AC"] * config.vocab_size  # lengths that do not match token_lengths
    with pytest.raises(ValueError, match="token_bases does not agree"):
        NucleotideTransformerForTokenPrediction(config)(torch.tensor([[3, 6, 4102]]))


@pytest.mark.parametrize("task_type", ["SEQ_CLS", "TOKEN_CLS"])
@pytest.mark.parametrize("demo", DEMOS)
def test_lora_trains_and_saves_the_head(demo, task_type, windows, tmp_path):
    """PEFT's defaults for the task keep our `classifier` head trainable and save it with the adapter, so a
    reloaded adapter predicts exactly what the trained model did, on every load."""
    peft = pytest.importorskip("peft")
    path = demo_model_path(demo)
    model_class = AutoModelForSequencePrediction if task_type == "SEQ_CLS" else AutoModelForTokenPrediction
    tokenizer = AutoTokenizer.from_pretrained(path)
    batch = tokenizer(windows[:4], padding=True, return_tensors="pt")
    labels = torch.tensor([0, 1, 1, 0]) if task_type == "SEQ_CLS" else torch.tensor([gc(t) for t in windows[:4]])
    network = model_class.from_pretrained(path, num_labels=2)
    lora = peft.LoraConfig(
        task_type=task_type, r=4, target_modules=list(MODELS[network.config.model_type].lora_targets)
    )
    model = peft.get_peft_model(network, lora)
    trainable = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    assert any(".classifier." in name for name in trainable)
    assert all("lora_" in name or ".classifier." in name for name in trainable), trainable
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
    model.save_pretrained(tmp_path)
    for _ in range(2):
        reloaded = peft.PeftModel.from_pretrained(model_class.from_pretrained(path, num_labels=2), tmp_path).eval()
        with torch.no_grad():
            assert torch.allclose(reloaded(**batch).logits, expected, atol=1e-6)
