"""Reference-based scores with promptfoo's formulas: levenshtein, BLEU, ROUGE-N, perplexity.

- levenshtein counts UTF-16 code units (JavaScript strings), computed by rapidfuzz;
- BLEU: lower-cased whitespace tokens, n-grams 1..4 with equal weights over the orders that
  exist in the candidate, clipped counts against the best reference, brevity penalty against
  the closest reference length, zero precisions smoothed to 1e-7;
- ROUGE-N (n = 1): js-rouge's Penn Treebank tokenizer on lower-cased text, clipped unigram
  overlap, F1;
- perplexity = exp(-mean logprob); perplexity-score = 1 / (1 + exp(-mean logprob)).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from workbench.core.jsvalues import js_split_whitespace, js_trim, utf16_units


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two JavaScript strings (UTF-16 code units)."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(utf16_units(a), utf16_units(b)))


def _ngrams(words: list[str], n: int) -> list[str]:
    if n <= 0 or n > len(words):
        return []
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def bleu(candidate: str, references: list[str]) -> float:
    if not references:
        raise ValueError("Invalid inputs")
    if js_trim(candidate) == "":
        return 0.0

    def tokenize(text: str) -> list[str]:
        trimmed = js_trim(text.lower())
        return js_split_whitespace(trimmed) if trimmed else [""]

    words = tokenize(candidate)
    reference_words = [tokenize(r) for r in references]
    closest = reference_words[0].__len__()
    for ref in reference_words[1:]:
        dist_curr, dist_prev = abs(len(ref) - len(words)), abs(closest - len(words))
        if dist_curr < dist_prev or (dist_curr == dist_prev and len(ref) < closest):
            closest = len(ref)
    orders: list[tuple[float, float]] = []
    for n in range(1, 5):
        grams = _ngrams(words, n)
        if not grams:
            continue
        counts = Counter(grams)
        best = 0
        for ref in reference_words:
            ref_counts = Counter(_ngrams(ref, n))
            best = max(best, sum(min(c, ref_counts.get(g, 0)) for g in counts for c in (counts[g],)))
        orders.append((best / len(grams), 0.25))
    penalty = 1.0 if len(words) > closest else math.exp(1 - closest / len(words))
    weight_sum = sum(w for _, w in orders)
    if weight_sum == 0:
        return 0.0
    total = sum(w / weight_sum * math.log(p if p else 1e-7) for p, w in orders)
    return penalty * math.exp(total)


_CONTRACTIONS = [
    (r"(can)(not)", 2), (r"(d)('ye)", 2), (r"(gim)(me)", 2), (r"(gon)(na)", 2), (r"(got)(ta)", 2),
    (r"(lem)(me)", 2), (r"(more)('n)", 2), (r"(wan)(na)(?= )", 2), (r"('t)(is)", 2), (r"('t)(was)", 2),
]


def treebank_tokenize(text: str) -> list[str]:
    """js-rouge's Penn Treebank tokenizer (its common path; quote pairing is simplified)."""
    t = re.sub(r"[\s\u0085]+", " ", text).strip()
    if not t:
        return []
    t = re.sub(r'^"', " `` ", t)
    t = re.sub(r'(?<=[\s(\[{<])"', " `` ", t)
    t = t.replace('"', " '' ")
    t = t.replace("...", " ... ")
    t = re.sub(r"[:,](?!\d)", lambda m: f" {m.group(0)} ", t)
    t = re.sub(r"[;@#$%&]", lambda m: f" {m.group(0)} ", t)
    t = re.sub(r"([^.])(?<!\b[A-Za-z]\.[A-Za-z])(\.)([\])}>'\s]*)$", r"\1 \2\3 ", t)
    t = re.sub(r"[?!]", lambda m: f" {m.group(0)} ", t)
    t = re.sub(r"[\][(){}<>]", lambda m: f" {m.group(0)} ", t)
    t = t.replace("--", " -- ")
    t = f" {t} "
    t = re.sub(r"([^'])' ", r"\1 ' ", t)
    t = re.sub(r"'([sSmMdD]) ", r" '\1 ", t)
    t = re.sub(r"('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r" \1 ", t)
    for pattern, _ in _CONTRACTIONS:
        t = re.sub(rf"(?<![\w\u200c\u200d]){pattern}(?![\w\u200c\u200d])", r" \1 \2 ", t, flags=re.IGNORECASE)
    t = re.sub(r" {2,}", " ", t).strip()
    return t.split(" ")


def _f_measure(precision: float, recall: float) -> float:
    if precision == recall:
        return precision
    if precision == 0 or recall == 0:
        return 0.0
    if precision > recall:
        return min(precision, recall * (2 / (1 + recall / precision)))
    return min(recall, precision * (2 / (1 + precision / recall)))


def rouge_n(candidate: str, reference: str, n: int = 1) -> float:
    cand = treebank_tokenize(candidate)
    ref = treebank_tokenize(reference)
    if len(cand) < n or len(ref) < n:
        return 0.0
    cand_grams, ref_grams = _ngrams(cand, n), _ngrams(ref, n)
    ref_counts = Counter(ref_grams)
    overlap = sum(min(count, ref_counts.get(gram, 0)) for gram, count in Counter(cand_grams).items())
    if overlap == 0:
        return 0.0
    return _f_measure(overlap / len(cand_grams), overlap / len(ref_grams))


def perplexity(logprobs: list[float]) -> float:
    return math.exp(-sum(logprobs) / len(logprobs))


def perplexity_score(logprobs: list[float]) -> float:
    return 1 / (1 + math.exp(-sum(logprobs) / len(logprobs)))
