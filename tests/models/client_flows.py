"""The code users already have for the published originals, as they write it (from the descriptions of the DNABERT-2
README and `finetune/train.py`, the NT model card and fine-tuning notebooks, BEND's embedders): transformers' Auto
classes and `pipeline` with `trust_remote_code=True`, LoRA target lists. No third-party code is copied.

Each flow takes the checkpoint's name (a directory or a Hub id) and returns what a test compares; run in-process by
`test_remote_code.py` on directories, and in a child process by Hub id (`python -m tests.models.client_flows`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    Trainer,
    TrainingArguments,
    pipeline,
)

DNA = "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC"
SEQUENCES = ["ATTCCGATTCCGATTCCG", "ATTTCTCTCTCTCTCTGAGATCGATCGATCGAT"]


def dnabert2_readme(name: str) -> dict:
    """The DNABERT-2 README: the embedding of one sequence, mean- and max-pooled."""
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
    model = AutoModel.from_pretrained(name, trust_remote_code=True)
    inputs = tokenizer(DNA, return_tensors="pt")["input_ids"]
    hidden_states = model(inputs)[0]  # [1, sequence_length, hidden]
    embedding_mean = torch.mean(hidden_states[0], dim=0)
    embedding_max = torch.max(hidden_states[0], dim=0)[0]
    return {"model": model, "tokenizer": tokenizer, "inputs": inputs, "hidden_states": hidden_states,
            "mean": embedding_mean, "max": embedding_max}  # fmt: skip


def dnabert2_readme_bert_config(name: str) -> dict:
    """The README's variant for transformers > 4.28: transformers' BertConfig passed as `config=`."""
    config = BertConfig.from_pretrained(name)
    model = AutoModel.from_pretrained(name, trust_remote_code=True, config=config)
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
    inputs = tokenizer(DNA, return_tensors="pt")["input_ids"]
    return {"model": model, "hidden_states": model(inputs)[0]}


class Pairs(torch.utils.data.Dataset):
    """(sequence, label) rows tokenized as DNABERT-2's `train.py` does (padding in the collator)."""

    def __init__(self, tokenizer, rows: list[tuple[str, int]]):
        self.items = [{**tokenizer(sequence, truncation=True), "labels": label} for sequence, label in rows]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def collate(tokenizer):
    def collate(rows: list[dict]) -> dict:
        labels = torch.tensor([row.pop("labels") for row in rows])
        return {**tokenizer.pad(rows, return_tensors="pt"), "labels": labels}

    return collate


def lora_sequence_classification(name: str, output_dir: str, r: int, targets: list[str], steps: int = 3) -> dict:
    """`AutoModelForSequenceClassification` with a LoRA adapter on `targets`, trained a few steps by `Trainer`
    (DNABERT-2's `finetune/train.py` with `--use_lora`: r=8 on `query,value`; the NT notebook: r=1 on the same)."""
    from peft import LoraConfig, TaskType, get_peft_model

    tokenizer = AutoTokenizer.from_pretrained(name, model_max_length=64, padding_side="right", trust_remote_code=True)
    model = AutoModelForSequenceClassification.from_pretrained(name, num_labels=2, trust_remote_code=True)
    lora = LoraConfig(r=r, lora_alpha=32, target_modules=targets, lora_dropout=0.05, bias="none",
                      task_type=TaskType.SEQ_CLS, inference_mode=False)  # fmt: skip
    model = get_peft_model(model, lora)
    rows = [("ACGTACGTTTGACA" * 3, 0), ("GGGCCCGGGTTTAA" * 3, 1), ("ATATATCGCGCGAT" * 3, 0), ("TTTTCCCCGGGGAA" * 3, 1)]
    arguments = TrainingArguments(output_dir=output_dir, max_steps=steps, per_device_train_batch_size=2,
                                  learning_rate=1e-2, report_to=[], save_strategy="no", use_cpu=True)  # fmt: skip
    trainer = Trainer(
        model=model, args=arguments, train_dataset=Pairs(tokenizer, rows), data_collator=collate(tokenizer)
    )
    result = trainer.train()
    adapted = sorted({key.rsplit(".lora_", 1)[0] for key in model.state_dict() if ".lora_B." in key})
    moved = all(value.abs().sum() > 0 for key, value in model.state_dict().items() if ".lora_B." in key)
    return {"model": model, "loss": result.training_loss, "adapted": adapted, "lora_b_trained": moved}


def nt_card(name: str) -> dict:
    """The Nucleotide Transformer v2 model card: logits and embeddings, padded to the maximum length."""
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
    model = AutoModelForMaskedLM.from_pretrained(name, trust_remote_code=True)
    max_length = tokenizer.model_max_length
    tokens_ids = tokenizer.batch_encode_plus(SEQUENCES, return_tensors="pt", padding="max_length",
                                             max_length=max_length)["input_ids"]  # fmt: skip
    attention_mask = tokens_ids != tokenizer.pad_token_id
    torch_outs = model(tokens_ids, attention_mask=attention_mask, encoder_attention_mask=attention_mask,
                       output_hidden_states=True)  # fmt: skip
    embeddings = torch_outs["hidden_states"][-1].detach()
    attention_mask = torch.unsqueeze(attention_mask, dim=-1)
    mean_sequence_embeddings = torch.sum(attention_mask * embeddings, axis=-2) / torch.sum(attention_mask, axis=1)
    return {"model": model, "tokenizer": tokenizer, "tokens_ids": tokens_ids, "embeddings": embeddings,
            "mean": mean_sequence_embeddings, "logits": torch_outs["logits"]}  # fmt: skip


def per_base_embedding(name: str, sequence: str) -> torch.Tensor:
    """A BEND-style embedder: the last hidden state of each token repeated over the bases it spells (the special
    tokens dropped), so that every base of `sequence` has a vector: (len(sequence), hidden)."""
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
    model = AutoModelForMaskedLM.from_pretrained(name, trust_remote_code=True)
    encoded = tokenizer(sequence, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded, output_hidden_states=True).hidden_states[-1][0]
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    rows = [
        vector.expand(len(token), -1)
        for token, vector in zip(tokens, hidden)
        if token not in tokenizer.all_special_tokens
    ]
    return torch.cat(rows)


def pipelines(name: str) -> dict:
    """`pipeline("fill-mask")` and `pipeline("feature-extraction")` by name, with `trust_remote_code=True`."""
    fill = pipeline("fill-mask", model=name, trust_remote_code=True)
    features = pipeline("feature-extraction", model=name, trust_remote_code=True)
    mask = fill.tokenizer.mask_token
    return {"fill": fill(f"ACGTAGCATCGG{mask}ATCTATC", top_k=3), "fill_model": fill.model,
            "features": features("ACGTAGCATCGGATCTATC"), "features_model": features.model}  # fmt: skip


def main(dnabert2: str, nt: str, dnabert_s: str, ntv3: str, ntv3_post: str, output_dir: str) -> None:
    """Every flow by name (Hub ids in the child process); prints one JSON line of what the test compares."""
    torch.manual_seed(0)
    readme, variant = dnabert2_readme(dnabert2), dnabert2_readme_bert_config(dnabert2)
    card, fills = nt_card(nt), pipelines(dnabert2)
    dnabert2_lora = lora_sequence_classification(dnabert2, f"{output_dir}/dnabert2", r=8, targets=["query", "value"])
    nt_lora = lora_sequence_classification(nt, f"{output_dir}/nt", r=1, targets=["query", "value"])
    result = {
        "classes": [type(flow["model"]).__name__ for flow in (readme, variant, card)],
        "tokenizers": [type(readme["tokenizer"]).__name__, type(card["tokenizer"]).__name__],
        "readme_hidden": readme["hidden_states"].detach().tolist(),
        "variant_hidden": variant["hidden_states"].detach().tolist(),
        "card_logits_sum": card["logits"].sum().item(),
        "fill_top": [prediction["token_str"] for prediction in fills["fill"]],
        "lora_adapted": [len(dnabert2_lora["adapted"]), len(nt_lora["adapted"])],
        "lora_trained": [dnabert2_lora["lora_b_trained"], nt_lora["lora_b_trained"]],
        "per_base": list(per_base_embedding(nt, DNA).shape),
        "new_families": [
            type(AutoModel.from_pretrained(dnabert_s, trust_remote_code=True)).__name__,
            type(AutoModelForMaskedLM.from_pretrained(ntv3, trust_remote_code=True)).__name__,
            type(AutoModel.from_pretrained(ntv3_post, trust_remote_code=True)).__name__,
            type(AutoTokenizer.from_pretrained(ntv3, trust_remote_code=True)).__name__,
        ],
        "remote_modules": sorted(module for module in sys.modules if module.startswith("transformers_modules")),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    import multimolecule  # noqa: F401  (registers the models: what users do)

    *names, output_dir, planted = sys.argv[1:]
    from multimolecule.models.registry import MODELS
    from multimolecule.models.remote_code import sha256  # the planted files stand for the published code

    for layout in (layout for package in MODELS.values() for layout in package.original_layouts):
        for path in Path(planted).glob("*.py"):
            layout.remote_code[sha256(str(path))] = "planted for the test"
    main(*names, output_dir)
