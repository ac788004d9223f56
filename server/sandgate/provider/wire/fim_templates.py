"""Fill-in-the-middle prompt templates of the common code models, for servers whose
/v1/completions takes no `suffix` (vLLM, llama.cpp): the model's own special tokens around the
prefix and suffix, and the tokens that end its answer (sent as stop sequences, cut client-side too)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FimTemplate:
    name: str
    pattern: str  # with {prefix} and {suffix}
    stops: tuple[str, ...]

    def render(self, prefix: str, suffix: str) -> str:
        # Not str.format: the code itself is full of braces.
        return self.pattern.replace("{suffix}", "\0S").replace("{prefix}", prefix).replace("\0S", suffix)


TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        FimTemplate(
            "qwen",
            "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>"),
        ),
        FimTemplate(
            "deepseek",
            "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
            ("<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
        ),
        FimTemplate(
            "starcoder",
            "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>"),
        ),
        FimTemplate("codellama", "<PRE> {prefix} <SUF>{suffix} <MID>", ("<EOT>", "</s>")),
        FimTemplate("codestral", "[SUFFIX]{suffix}[PREFIX]{prefix}", ("</s>", "[PREFIX]", "[SUFFIX]")),
        FimTemplate(
            "codegemma",
            "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            ("<|file_separator|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
        ),
    )
}

# Model-name fragments (lower case) → template, most specific first.
_FAMILIES = (
    ("qwen2.5-coder", "qwen"),
    ("qwen-coder", "qwen"),
    ("qwen3-coder", "qwen"),
    ("deepseek-coder", "deepseek"),
    ("starcoder", "starcoder"),
    ("codellama", "codellama"),
    ("code-llama", "codellama"),
    ("codestral", "codestral"),
    ("codegemma", "codegemma"),
)


def template_for(model: str) -> FimTemplate | None:
    """The template of a fill-in-the-middle model, by its name; None for other models."""
    name = model.lower()
    for fragment, template in _FAMILIES:
        if fragment in name:
            return TEMPLATES[template]
    return None
