"""Which word of a sentence each token of a TextVectorization model is, so maps read as words.

A per-token attribution is indexed by the model's token positions: after TextVectorization has
standardised the sentence (lower case, punctuation stripped), split it (on whitespace), looked
each piece up in its vocabulary ("[UNK]" when it is not there) and padded or cut it to
`output_sequence_length`. `align` redoes the standardising and splitting in Python on the
original sentence, word by word, so each token position points back to the word (with its
character span) it came from. Positions past the words are padding; words past the sequence
length were never read. Layers this cannot follow (n-grams, character splits, a custom
standardiser) are aligned token by token, with no words, and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# TextVectorization's DEFAULT_STRIP_REGEX (keras.src.layers.preprocessing.text_vectorization)
STRIP = re.compile(r"""[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']""")
WORD, OOV, PADDING, CUT = "word", "oov", "padding", "cut"  # kinds of a word / token position
OOV_TOKEN = "[UNK]"


@dataclass(frozen=True)
class TokenAlignment:
    """Words of one sentence and the model's token positions, linked both ways."""

    sentence: str
    words: tuple[str, ...]  # the sentence's words as written
    spans: tuple[tuple[int, int], ...]  # (start, end) of each word in `sentence`
    word_token: tuple[int, ...]  # token position of each word; -1: not read (stripped away, or cut)
    word_kinds: tuple[str, ...]  # WORD, OOV or CUT per word ("" for a word stripped to nothing)
    tokens: tuple[str, ...]  # the vocabulary entry at each token position ("" padding)
    token_kinds: tuple[str, ...]  # WORD, OOV or PADDING per token position
    token_word: tuple[int, ...]  # the word of each token position; -1 for padding
    note: str = ""  # why words could not be followed, if they could not

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (it travels in a result's provenance JSON)."""
        return {name: [list(s) for s in value] if name == "spans" else (list(value) if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenAlignment:
        values = {k: tuple(tuple(s) for s in v) if k == "spans" else (tuple(v) if isinstance(v, list) else v)
                  for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**values)


def vectorizer(model: Any) -> Any:
    """The model's TextVectorization layer (searching nested models), or None."""
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "get_vocabulary") and hasattr(layer, "get_config"):
            return layer
        found = vectorizer(layer) if hasattr(layer, "layers") else None
        if found is not None:
            return found
    return None


def standardize(word: str, how: str | None) -> str:
    """One word as TextVectorization's standardiser leaves it."""
    if how in ("lower", "lower_and_strip_punctuation"):
        word = word.lower()
    if how in ("strip_punctuation", "lower_and_strip_punctuation"):
        word = STRIP.sub("", word)
    return word


def align(sentence: str, tokens: list[str], config: dict[str, Any] | None) -> TokenAlignment:
    """Link `sentence`'s words to `tokens` (the vocabulary entry at each token position)."""
    config = config or {}
    how, split = config.get("standardize"), config.get("split")
    token_kinds = tuple(PADDING if t == "" else OOV if t == OOV_TOKEN else WORD for t in tokens)
    followable = split == "whitespace" and not config.get("ngrams") and (how is None or isinstance(how, str))
    if not followable:
        return TokenAlignment(sentence, (), (), (), (), tuple(tokens), token_kinds, tuple(-1 for _ in tokens),
                              note="Tokens are shown as the model read them: this layer's splitting is not by words.")
    matches = list(re.finditer(r"\S+", sentence))
    word_token, word_kinds, token_word = [], [], [-1] * len(tokens)
    position = 0
    for index, match in enumerate(matches):
        if not standardize(match.group(), how):
            word_token.append(-1)
            word_kinds.append("")  # nothing left of it: no token
            continue
        if position >= len(tokens) or token_kinds[position] == PADDING:
            word_token.append(-1)
            word_kinds.append(CUT)  # past the sequence length: the model never read it
            position += 1
            continue
        word_token.append(position)
        word_kinds.append(token_kinds[position])
        token_word[position] = index
        position += 1
    return TokenAlignment(
        sentence, tuple(m.group() for m in matches), tuple(m.span() for m in matches), tuple(word_token),
        tuple(word_kinds), tuple(tokens), token_kinds, tuple(token_word),
    )


def model_alignment(model: Any, sentence: str, tokens: list[str]) -> TokenAlignment:
    """`align` with the model's own TextVectorization settings."""
    layer = vectorizer(model)
    return align(sentence, tokens, layer.get_config() if layer is not None else None)
