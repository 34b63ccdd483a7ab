"""Similarity in [0, 1] of a new ticket and a candidate: lexical text score plus ticket signals.

The idf comes from the account's own tickets (`IdfModel`, updated as tickets arrive). Ticket
features are compact arrays of vocabulary ids so 100,000 indexed tickets fit in memory.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from triggers.duplicates import normalise as nz

# Bounded work and memory per ticket: the first comment's opening says what the problem is.
# 150 body tokens measured as good as 300 (dev split) at half the memory; the character cap
# bounds the regex work on pasted logs before tokens are counted.
MAX_BODY_TOKENS = 150
MAX_BODY_CHARS = 4000
MAX_SUBJECT_CHARS = 200
# A subject's words count this many times in the combined bag: it is the requester's summary.
SUBJECT_BOOST = 2

# Fields of a ticket's features; a text method is a weighted mix of per-field similarities.
F_ALL = "all"  # subject + first-comment words and word bigrams
F_SUBJECT = "subject"  # subject words and word bigrams
F_SUBJECT_CHARS = "subject_chars"  # character 3-5-grams of the subject's words
FIELDS = (F_ALL, F_SUBJECT, F_SUBJECT_CHARS)
_FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}
_CHAR_PREFIX = "\x00"  # keeps character n-grams apart from words in the one vocabulary

# A first-comment line shared by this many tickets, and this share of the account's tickets,
# is boilerplate (a template, web-form scaffolding, a footer), not evidence.
COMMON_LINE_TICKETS = 5
COMMON_LINE_SHARE = 0.001
LINE_BITMAP_BYTES = 1 << 20  # 8M bits for lines seen once (1 MiB)

# Cached candidate norms are recomputed once N has moved by this share (see candidate_norms).
NORM_REFRESH_SHARE = 0.01

# BM25 parameters (the usual defaults; short texts are not sensitive to them).
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class TextMethod:
    """How text similarity is computed: cosine or BM25, and the weight of each field."""

    name: str
    kind: str  # "cosine" or "bm25"
    weights: tuple[tuple[str, float], ...]


# The variants bench/duplicates_eval.py compares in every run. The field weights of
# TFIDF_FIELDS were picked on the dev split only (recall at precision >= 0.95; see
# bench/results/duplicates_eval.md for the grid): the subject carries most of the signal in
# short reports, and its character n-grams survive typos, inflections and compound words.
TFIDF_ALL = TextMethod("tfidf_words", "cosine", ((F_ALL, 1.0),))
BM25_ALL = TextMethod("bm25_words", "bm25", ((F_ALL, 1.0),))
TFIDF_ALL_CHARS = TextMethod(
    "tfidf_words_subject_chars", "cosine", ((F_ALL, 0.7), (F_SUBJECT_CHARS, 0.3))
)
TFIDF_FIELDS = TextMethod(
    "tfidf_fields", "cosine", ((F_ALL, 0.5), (F_SUBJECT, 0.2), (F_SUBJECT_CHARS, 0.3))
)
METHODS = {m.name: m for m in (TFIDF_ALL, BM25_ALL, TFIDF_ALL_CHARS, TFIDF_FIELDS)}
DEFAULT_METHOD = TFIDF_FIELDS


@dataclass(frozen=True, slots=True)
class Bag:
    """A bag of terms as parallel arrays: vocabulary ids (ascending) and counts (capped at 255)."""

    ids: array[int]
    tfs: array[int]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class TermCounts:
    """A ticket's terms before they get vocabulary ids (what `IdfModel` learns from)."""

    fields: dict[str, dict[str, int]]
    references: frozenset[int]


def term_counts(
    subject: str, description: str, is_common: Callable[[str], bool] | None = None
) -> TermCounts:
    """Normalise a ticket's subject and first comment and count its terms per field.

    `is_common` says which lines the account's tickets share (`IdfModel.is_common_line`):
    they are dropped before counting, so a template or footer is never evidence.
    """
    subject_text = nz.normalise_subject(subject)[:MAX_SUBJECT_CHARS]
    body = description[:MAX_BODY_CHARS]
    if is_common is not None:
        body = nz.strip_common_lines(body, is_common)
        if is_common(nz.subject_key(subject)):
            subject_text = ""  # a web form's or a robot's subject, shared by many tickets
    body_text = nz.normalise_body(body)
    subject_words = nz.words(subject_text)
    body_words = nz.words(body_text)[:MAX_BODY_TOKENS]
    subject_terms = subject_words + nz.word_bigrams(subject_words)
    # Body bigrams earn their memory: without them dev recall at precision >= 0.95 fell 0.551 -> 0.521.
    body_terms = body_words + nz.word_bigrams(body_words)
    all_terms = Counter(body_terms)
    for term in subject_terms:
        all_terms[term] += SUBJECT_BOOST
    chars = Counter(_CHAR_PREFIX + g for g in nz.char_ngrams(subject_words))
    return TermCounts(
        fields={
            F_ALL: dict(all_terms),
            F_SUBJECT: dict(Counter(subject_terms)),
            F_SUBJECT_CHARS: dict(chars),
        },
        references=nz.ticket_references(subject) | nz.ticket_references(description)
        or NO_REFERENCES,  # one shared empty set: most tickets refer to none (216 B each)
    )


def line_id(key: str) -> int:
    """A line key's 64-bit id: blake2b, the same in every process (Python's `hash` of a str is
    salted per process, so hosts sharing one table would count lines differently). Two keys
    share an id with probability ~n^2 / 2^65: none at any account's size."""
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "little",
        signed=True,
    )


NO_LINES: array[int] = array("q")  # shared by tickets without lines: never mutated


class IdfModel:
    """Document frequencies of the account's tickets, updated incrementally.

    Memory is one dict entry and one array slot per vocabulary term. Terms are never forgotten
    (their ids stay stable for the features that hold them); removing a ticket lowers df.
    """

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.df: array[int] = array("I")
        self.n_docs = 0
        # idf(t) = log(N + 1) - log(df(t) + 1) + 1. Keeping log(df + 1) per term makes a new
        # ticket cost one log per distinct term, and a change of N a single number: no idf table
        # ever needs recomputing, so there is no latency spike as the corpus grows.
        self.log_df: array[float] = array("d")
        self.total_length: dict[str, int] = dict.fromkeys(FIELDS, 0)
        # Lines of first comments seen in more than one ticket, by the `line_id` of their key
        # (normalise.line_keys): a 64-bit int, not the line (issue 16: memory). A line seen
        # once only sets a bit: most lines are unique, and a dict entry per unique line would
        # cost ~100 bytes per line per ticket.
        self.line_df: dict[int, int] = {}
        self._seen_once = bytearray(LINE_BITMAP_BYTES)

    # --- account-wide boilerplate lines --------------------------------------------------
    def _bit(self, key: int) -> tuple[int, int]:
        h = key & (LINE_BITMAP_BYTES * 8 - 1)
        return h >> 3, 1 << (h & 7)

    @staticmethod
    def _line_key_ids(description: str, subject: str) -> array[int]:
        keys = set(nz.line_keys(description[:MAX_BODY_CHARS]))
        if subject.strip():
            keys.add(nz.subject_key(subject))
        return array("q", sorted({line_id(key) for key in keys}))

    def learn_lines(self, description: str, subject: str = "") -> array[int]:
        """Count a ticket's first-comment lines and its subject (once per ticket); return
        their ids (`line_id`), which `forget_line_ids` takes when the ticket leaves: the index
        need not keep the ticket's text to undo this."""
        ids = self._line_key_ids(description, subject)
        for key in ids:
            if key in self.line_df:
                self.line_df[key] += 1
                continue
            byte, bit = self._bit(key)
            if self._seen_once[byte] & bit:
                self.line_df[key] = 2
            else:
                self._seen_once[byte] |= bit
        return ids if ids else NO_LINES

    def forget_line_ids(self, ids: Iterable[int]) -> None:
        """Undo `learn_lines` for a ticket that leaves the index (bits stay set)."""
        for key in ids:
            count = self.line_df.get(key)
            if count is None:
                continue
            if count <= 2:
                del self.line_df[key]
            else:
                self.line_df[key] = count - 1

    def forget_lines(self, description: str, subject: str = "") -> None:
        """`forget_line_ids` of the ticket's text."""
        self.forget_line_ids(self._line_key_ids(description, subject))

    def is_common_line(self, key: str) -> bool:
        """A line in at least COMMON_LINE_TICKETS tickets and COMMON_LINE_SHARE of them."""
        count = self.line_df.get(line_id(key), 0)
        return count >= COMMON_LINE_TICKETS and count >= COMMON_LINE_SHARE * self.n_docs

    def _pairs(self, counts: Mapping[str, int], *, learn: bool) -> list[tuple[int, int]]:
        """(vocabulary id, count capped at 255) sorted by id; with learn=False unknown terms
        get id -1 (they match nothing)."""
        vocabulary = self.vocabulary
        if learn:
            for term in counts:
                if term not in vocabulary:
                    vocabulary[term] = len(self.df)
                    self.df.append(0)
                    self.log_df.append(0.0)
        get = vocabulary.get
        # Sorted by id: a query's terms become sorted search keys (see prepare_query).
        return sorted([(get(term, -1), tf if tf < 255 else 255) for term, tf in counts.items()])

    def bag(self, counts: Mapping[str, int], *, learn: bool) -> Bag:
        """Terms as a `Bag` (see `_pairs`)."""
        pairs = self._pairs(counts, learn=learn)
        return Bag(array("i", [p[0] for p in pairs]), array("B", [p[1] for p in pairs]))

    def features(self, counts: TermCounts, *, learn: bool) -> Features:
        """Packed features: every field's terms in one id array and one count array."""
        ids: list[int] = []
        tfs: list[int] = []
        ends: list[int] = []
        for name in FIELDS:
            for term_id, tf in self._pairs(counts.fields.get(name, {}), learn=learn):
                ids.append(term_id)
                tfs.append(tf)
            ends.append(len(ids))
        return Features(array("i", ids), array("B", tfs), tuple(ends), counts.references)

    def add(self, features: Features) -> None:
        """Count one ticket (its distinct terms over all fields) in the document frequencies."""
        self.n_docs += 1
        for term_id in features.distinct_ids():
            if term_id >= 0:
                self.df[term_id] += 1
                self.log_df[term_id] = math.log(self.df[term_id] + 1)
        for name, length in features.lengths().items():
            self.total_length[name] = self.total_length.get(name, 0) + length

    def remove(self, features: Features) -> None:
        """Undo `add` for a ticket that leaves the index."""
        self.n_docs = max(0, self.n_docs - 1)
        for term_id in features.distinct_ids():
            if term_id >= 0 and self.df[term_id] > 0:
                self.df[term_id] -= 1
                self.log_df[term_id] = math.log(self.df[term_id] + 1)
        for name, length in features.lengths().items():
            self.total_length[name] = max(0, self.total_length.get(name, 0) - length)

    def learn(self, subject: str, description: str) -> Features:
        """Features of a ticket, counted in the model (convenience for fitting on a corpus)."""
        self.learn_lines(description, subject)
        feats = self.features(term_counts(subject, description, self.is_common_line), learn=True)
        self.add(feats)
        return feats

    def idf_base(self) -> float:
        """log(N + 1) + 1: the idf of a term no ticket contains; subtract log_df[t] for others."""
        return math.log(self.n_docs + 1) + 1.0

    def idf(self, term_id: int) -> float:
        return self.idf_base() - (self.log_df[term_id] if term_id >= 0 else 0.0)

    def average_length(self, name: str) -> float:
        return self.total_length.get(name, 0) / self.n_docs if self.n_docs else 1.0


NO_REFERENCES: frozenset[int] = frozenset()
_NO_NORMS = (-1.0,) + (0.0,) * len(FIELDS)


@dataclass(frozen=True, slots=True)
class Features:
    """A ticket's terms per field, packed, plus the ticket numbers its text refers to.

    Every field's bag lives in the same two arrays (ids, counts), one run per field in FIELDS
    order, ascending ids within a run; `ends[i]` is where field i's run ends. Two arrays
    instead of a dict of six cost ~650 bytes less per indexed ticket (issue 16: memory at
    100,000 tickets).
    """

    ids: array[int]  # vocabulary ids ("i"); -1 = a term the model does not know
    tfs: array[int]  # counts ("B", capped at 255), parallel to ids
    ends: tuple[int, ...]  # end offset of each field's run, FIELDS order
    references: frozenset[int] = NO_REFERENCES
    # [N when computed (-1: never), norm per field in FIELDS order]: see `candidate_norms`.
    norm_cache: array[float] = field(
        default_factory=lambda: array("d", _NO_NORMS), compare=False, repr=False
    )

    def span(self, i: int) -> tuple[int, int]:
        """Start and end offsets of field FIELDS[i]'s run."""
        return (self.ends[i - 1] if i else 0), self.ends[i]

    @property
    def bags(self) -> dict[str, Bag]:
        """The fields as separate `Bag`s (copies: for BM25 and readers, not the hot path)."""
        out = {}
        for i, name in enumerate(FIELDS):
            lo, hi = self.span(i)
            out[name] = Bag(self.ids[lo:hi], self.tfs[lo:hi])
        return out

    def lengths(self) -> dict[str, int]:
        """Sum of counts per field (BM25's document length)."""
        return {name: sum(self.tfs[slice(*self.span(i))]) for i, name in enumerate(FIELDS)}

    def distinct_ids(self) -> set[int]:
        return set(self.ids)


# Sublinear term frequency: a word repeated ten times is not ten times the evidence.
_TF_WEIGHT = [0.0] + [1.0 + math.log(tf) for tf in range(1, 256)]


_TF_WEIGHT_ARRAY = np.array(_TF_WEIGHT, dtype=np.float64)
# Per thread: a zeroed vector over (field, vocabulary id) into which `_batch_cosine_inputs` scatters a
# query's weights, and which it zeroes again after use (allocating ~2 MB per field per new
# ticket would cost more than the scoring).
_SCRATCH = threading.local()


def _tf_weight(tf: int) -> float:
    return _TF_WEIGHT[tf] if tf < 256 else 1.0 + math.log(tf)  # sentences are not capped


@dataclass(frozen=True, slots=True)
class Query:
    """A new ticket's weighted vectors per field, prepared once and scored against many."""

    weights: dict[str, dict[int, float]]  # field -> term id -> tf-idf weight (known terms)
    norms: dict[str, float]  # field -> L2 norm including unknown terms
    features: Features
    # The known terms of all fields as arrays (field index, vocabulary id, weight): what
    # `_batch_cosine_inputs` scatters into its dense vector.
    term_fields: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    term_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    term_weights: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def prepare_query(features: Features, model: IdfModel) -> Query:
    """The query's tf-idf weights: sublinear tf x idf per term; unknown terms (id -1) have the
    idf of a term no ticket contains and count in the norm only."""
    base = model.idf_base()
    ids = np.frombuffer(features.ids, dtype=np.intc).astype(np.int64)
    tfs = np.frombuffer(features.tfs, dtype=np.uint8)
    known = ids >= 0
    idf = np.full(len(ids), base, dtype=np.float64)
    if known.any():
        log_df = np.frombuffer(model.log_df, dtype=np.float64)
        try:
            idf[known] = base - log_df[ids[known]]
        finally:
            del log_df  # release the buffer: the model's arrays must stay growable
    w = _TF_WEIGHT_ARRAY[tfs] * idf
    weights: dict[str, dict[int, float]] = {}
    norms: dict[str, float] = {}
    for i, name in enumerate(FIELDS):
        lo, hi = features.span(i)
        # cumsum adds in term order, as the Python loop did: the same norm, bit for bit.
        sq = float(np.cumsum(w[lo:hi] * w[lo:hi])[-1]) if hi > lo else 0.0
        mask = known[lo:hi]
        weights[name] = dict(zip(ids[lo:hi][mask].tolist(), w[lo:hi][mask].tolist(), strict=True))
        norms[name] = math.sqrt(sq)
    fields = np.repeat(np.arange(len(FIELDS), dtype=np.int64), np.diff(features.ends, prepend=0))
    return Query(weights, norms, features, fields[known], ids[known], w[known])


def _run_norm(ids: array[int], tfs: array[int], base: float, log_df: array[float]) -> float:
    tf_weight = _TF_WEIGHT
    sq = 0.0
    for term_id, tf in zip(ids, tfs, strict=True):
        w = tf_weight[tf] * (base - log_df[term_id])
        sq += w * w
    return math.sqrt(sq)


def candidate_norms(features: Features, model: IdfModel) -> dict[str, float]:
    """L2 norms of an indexed ticket's tf-idf vectors, cached on its features.

    The norm pass over every term is most of the work of a cosine, so it is kept and only
    recomputed once the corpus has grown or shrunk by NORM_REFRESH_SHARE: by then a typical
    term's idf has moved by about 0.01 of ~10, and a norm by less than that.
    """
    cache = _norms(features, model)
    return {name: cache[i + 1] for i, name in enumerate(FIELDS)}


def _norms(features: Features, model: IdfModel) -> array[float]:
    """`candidate_norms` as the cache array itself: [N, norm per field in FIELDS order]."""
    cache = features.norm_cache
    n = model.n_docs
    if cache[0] >= 0 and abs(n - cache[0]) <= NORM_REFRESH_SHARE * max(cache[0], 1):
        return cache
    base = model.idf_base()
    ids, tfs = features.ids, features.tfs
    cache[0] = float(n)
    for i in range(len(FIELDS)):
        lo, hi = features.span(i)
        cache[i + 1] = _run_norm(ids[lo:hi], tfs[lo:hi], base, model.log_df)
    return cache


def _bm25(query: Query, name: str, bag: Bag, model: IdfModel) -> float:
    """BM25 of the query's terms in the candidate, divided by the query's BM25 against itself."""
    q = query.weights.get(name)
    qbag = query.features.bags.get(name)
    if not q or qbag is None or not len(bag):
        return 0.0
    avg = model.average_length(name) or 1.0

    def bm25(doc: Bag, terms: Iterable[int]) -> float:
        length = sum(doc.tfs)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / avg)
        tf_of = dict(zip(doc.ids, doc.tfs, strict=True))
        total = 0.0
        for term_id in terms:
            tf = tf_of.get(term_id)
            if tf:
                term_idf = model.idf(term_id)
                total += term_idf * tf * (BM25_K1 + 1) / (tf + norm)
        return total

    query_terms = [t for t in qbag.ids if t >= 0]
    best = bm25(qbag, qbag.ids)
    return min(1.0, bm25(bag, query_terms) / best) if best else 0.0


def round_many(values: npt.ArrayLike, ndigits: int) -> list[float]:
    """`[round(x, ndigits) for x in values]`, bit for bit, without a decimal conversion each.

    Python's `round(x, n)` is the double nearest to k / 10**n, k the integer nearest to the
    exact value of x * 10**n (ties to even); it costs ~1 us a value (a decimal string each
    way), and scoring rounds ~7 values per candidate (issue 16: scoring p99). Here k is
    `rint` of the float product x * 10**n, which is k whenever that product is not within
    1e-6 of a half (its rounding error is below 2**-22 for |x * 10**n| < 2**30), and k / 10**n
    is one correctly rounded IEEE division of two exact numbers: the same double. Values near
    a half, huge or not finite are left to `round` itself.
    """
    if not 0 <= ndigits <= 15:
        raise ValueError(f"ndigits must be in [0, 15], got {ndigits}")
    x = np.asarray(values, dtype=np.float64)
    scale = 10.0**ndigits  # exact for these ndigits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * scale
        out: list[float] = (np.rint(scaled) / scale).tolist()
        distance = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5)
        plain = ~((np.abs(scaled) < 2.0**30) & (distance > 1e-6))  # NaN compares False
    for i in np.flatnonzero(plain).tolist():
        out[i] = round(float(x[i]), ndigits)
    return out


def _batch_cosine_inputs(
    query: Query, candidates: Sequence[Features], model: IdfModel
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Dot products of the query and each candidate per field (n x FIELDS), and the
    candidates' cached norms (n x [N, norm per field]; stale ones refreshed), in one pass.

    Vectorised over all candidates' terms (issue 16: a Python loop per candidate cost ~60 us
    each, too much for the p99 at 100,000 tickets): every term reads its query weight from a
    dense vector over (field, id) (`_SCRATCH`); each shared term contributes query weight x
    sublinear tf x idf (the products, in that order, of the former per-candidate loop), summed
    per candidate and field in term order (the loop summed in set order: ~1e-16 apart).
    The caller must not let the model's vocabulary grow meanwhile (a view of `log_df` is held
    for the duration; the service scores under the index's lock).
    """
    n_fields = len(FIELDS)
    n = len(candidates)
    all_ids: array[int] = array("i")
    all_tfs: array[int] = array("B")
    all_ends: array[int] = array("q")
    caches: array[float] = array("d")
    for c in candidates:  # array concatenation is a memcpy: cheaper than a view per ticket
        all_ids += c.ids
        all_tfs += c.tfs
        all_ends.extend(c.ends)
        caches += c.norm_cache
    norms = np.array(caches, dtype=np.float64).reshape(n, n_fields + 1)
    computed_at = norms[:, 0]
    # `_norms`' freshness test, elementwise; the stale ones go through `_norms` itself.
    fresh = (computed_at >= 0) & (
        np.abs(model.n_docs - computed_at) <= NORM_REFRESH_SHARE * np.maximum(computed_at, 1.0)
    )
    for i in np.flatnonzero(~fresh).tolist():
        norms[i] = _norms(candidates[i], model)
    dots = np.zeros((n, n_fields), dtype=np.float64)
    if not n or not len(query.term_ids):
        return dots, norms
    ids = np.frombuffer(all_ids, dtype=np.intc)
    tfs = np.frombuffer(all_tfs, dtype=np.uint8)
    lengths = np.diff(
        np.frombuffer(all_ends, dtype=np.int64).reshape(n, n_fields), axis=1, prepend=0
    ).ravel()  # terms per (candidate, field) run
    # Field f's id t lives at slot f * stride + t + 1; slot f * stride (id -1, a term the model
    # does not know) is never set.
    stride = len(model.df) + 1
    size = n_fields * stride
    dense: npt.NDArray[np.float64] | None = getattr(_SCRATCH, "dense", None)
    if dense is None or len(dense) < size:
        dense = np.zeros(max(size, 2 * len(dense) if dense is not None else size))
        _SCRATCH.dense = dense
    query_slots = query.term_fields * stride + query.term_ids + 1
    dense[query_slots] = query.term_weights
    try:
        field_base = np.tile(np.arange(n_fields, dtype=np.int64) * stride + 1, n)
        weights = dense[np.repeat(field_base, lengths) + ids]
    finally:
        dense[query_slots] = 0.0  # the next query starts from zeros
    shared = np.flatnonzero(weights)  # query weights are >= 1 x idf >= 1: never 0
    if not len(shared):
        return dots, norms
    log_df = np.frombuffer(model.log_df, dtype=np.float64)
    try:
        products = (
            weights[shared]
            * _TF_WEIGHT_ARRAY[tfs[shared]]
            * (model.idf_base() - log_df[ids[shared]])
        )
    finally:
        del log_df  # release the buffer: the model's arrays must stay growable
    run = np.searchsorted(np.cumsum(lengths), shared, side="right")  # each term's run
    summed: npt.NDArray[np.float64] = np.bincount(
        run, weights=products, minlength=n * n_fields
    ).astype(np.float64, copy=False)  # float64 already (weights given); for the type checker
    return summed.reshape(n, n_fields), norms


def similarity_columns(
    query: Query,
    candidates: Sequence[Features],
    model: IdfModel,
    method: TextMethod = DEFAULT_METHOD,
) -> tuple[npt.NDArray[np.float64], list[tuple[str, npt.NDArray[np.float64]]]]:
    """Cosine `method`: each candidate's text similarity and, per field of the method, its
    unrounded value (columns in `method.weights` order), all candidates together."""
    if method.kind != "cosine":
        raise ValueError(f"{method.name} is not a cosine method")
    n = len(candidates)
    dots, norms = _batch_cosine_inputs(query, candidates, model)
    q_weights, q_norms = query.weights, query.norms
    # The arithmetic of the one-candidate definition, elementwise (IEEE operations in the same
    # order give the same bits).
    total = np.zeros(n, dtype=np.float64)
    weight_sum = 0.0
    columns: list[tuple[str, npt.NDArray[np.float64]]] = []
    for name, weight in method.weights:
        i = _FIELD_INDEX[name]
        q_norm = q_norms.get(name, 0.0)
        value = np.zeros(n, dtype=np.float64)
        if q_weights.get(name) and q_norm:
            denominator = q_norm * norms[:, i + 1]
            np.divide(dots[:, i], denominator, out=value, where=denominator != 0.0)
            np.minimum(value, 1.0, out=value)
        total = total + weight * value
        weight_sum += weight
        columns.append((name, value))
    if weight_sum:
        scores = np.minimum(1.0, np.maximum(0.0, total / weight_sum))
    else:
        scores = np.zeros(n, dtype=np.float64)
    return scores, columns


def text_similarities(
    query: Query,
    candidates: Sequence[Features],
    model: IdfModel,
    method: TextMethod = DEFAULT_METHOD,
    *,
    parts: bool | int = True,
) -> list[tuple[float, dict[str, float]]]:
    """`text_similarity` of each candidate, computed together (`similarity_columns`). The
    per-field dicts (values rounded to 4 places) are filled for all (True), none (False) or
    the first `parts` candidates (the rest are the background, whose parts nobody reads)."""
    if method.kind != "cosine":
        return [text_similarity(query, c, model, method) for c in candidates]
    n = len(candidates)
    if not n:
        return []
    scores, columns = similarity_columns(query, candidates, model, method)
    with_parts = (n if parts is True else int(parts)) if parts is not False else 0
    names = [name for name, _ in columns]
    rounded = [round_many(values[:with_parts], 4) for _, values in columns]
    dicts = [dict(zip(names, row, strict=True)) for row in zip(*rounded, strict=True)]
    if not names:
        dicts = [{} for _ in range(with_parts)]
    return [(score, dicts[k] if k < with_parts else {}) for k, score in enumerate(scores.tolist())]


def text_scores(
    query: Query,
    candidates: Sequence[Features],
    model: IdfModel,
    method: TextMethod = DEFAULT_METHOD,
) -> list[float]:
    """`text_similarity(...)[0]` of each candidate: what the calibration's background needs
    for 64 tickets per new ticket."""
    return [s for s, _ in text_similarities(query, candidates, model, method, parts=False)]


def text_similarity(
    query: Query, candidate: Features, model: IdfModel, method: TextMethod = DEFAULT_METHOD
) -> tuple[float, dict[str, float]]:
    """Weighted similarity in [0, 1] and the per-field values it came from (one candidate;
    many are scored together by `text_similarities`)."""
    parts: dict[str, float] = {}
    total = 0.0
    weight_sum = 0.0
    if method.kind == "bm25":
        bags = candidate.bags
        for name, weight in method.weights:
            value = _bm25(query, name, bags[name], model)
            parts[name] = round(value, 4)
            total += weight * value
            weight_sum += weight
        return (min(1.0, max(0.0, total / weight_sum)) if weight_sum else 0.0), parts
    return text_similarities(query, [candidate], model, method)[0]


# --- signals -------------------------------------------------------------------------------
# The labelled data has no product, organisation or reference fields, so these are priors,
# not fitted values: each is a bounded nudge that cannot turn unrelated text into a flag alone.
# "see ticket #123" closes 15% of the gap to 1: enough to lift similar text over the threshold,
# not enough to flag a ticket that only mentions another one ("unlike #123, this is about...").
REFERENCE_KEEP = 0.85
SAME_PRODUCT_KEEP = 0.9  # same product field closes 10% of the gap
DIFFERENT_PRODUCT_FACTOR = 0.7  # both products known and different
DIFFERENT_ORGANIZATION_FACTOR = 0.9  # only in organisation-wide comparisons
TIME_DECAY_FREE_DAYS = 1.0  # re-sends within a day are the typical duplicate
TIME_DECAY_FLOOR = 0.85  # factor at window_days apart
DEFAULT_WINDOW_DAYS = 14
# Chat and messaging can make several tickets of one conversation within seconds: those are
# the same conversation, whatever each part says. 20% of the gap remains (0.8 from nothing).
SAME_CONVERSATION_SECONDS = 300.0
SAME_CONVERSATION_KEEP = 0.2


class TicketFacts(NamedTuple):
    """What signals look at besides the text (a tuple: one is made per candidate scored)."""

    id: int
    product: str | None = None
    organization_id: int | None = None
    created_at: datetime | None = None
    channel: bool = False  # a chat/messaging/call ticket (its subject names the visitor)


def apply_signals(
    text_score: float,
    new: TicketFacts,
    candidate: TicketFacts,
    new_references: frozenset[int],
    window_days: float = DEFAULT_WINDOW_DAYS,
) -> tuple[float, dict[str, object]]:
    """Adjust a text score with the ticket signals; return the score and the signals used."""
    score = text_score
    signals: dict[str, object] = {"text": round(text_score, 4)}
    if candidate.id in new_references:
        score = 1.0 - (1.0 - score) * REFERENCE_KEEP
        signals["references_candidate"] = True
    if new.product and candidate.product:
        same = new.product == candidate.product
        signals["same_product"] = same
        score = (
            1.0 - (1.0 - score) * SAME_PRODUCT_KEEP if same else score * DIFFERENT_PRODUCT_FACTOR
        )
    if new.organization_id is not None and candidate.organization_id is not None:
        same_org = new.organization_id == candidate.organization_id
        signals["same_organization"] = same_org
        if not same_org:
            score *= DIFFERENT_ORGANIZATION_FACTOR
    if new.created_at is not None and candidate.created_at is not None:
        days = abs((new.created_at - candidate.created_at).total_seconds()) / 86400.0
        signals["days_apart"] = round(days, 2)
        if new.channel and candidate.channel and days * 86400.0 <= SAME_CONVERSATION_SECONDS:
            signals["same_conversation"] = True
            score = 1.0 - (1.0 - score) * SAME_CONVERSATION_KEEP
        span = max(window_days - TIME_DECAY_FREE_DAYS, 1e-9)
        over = min(max(days - TIME_DECAY_FREE_DAYS, 0.0), span) / span
        score *= 1.0 - (1.0 - TIME_DECAY_FLOOR) * over
    return min(1.0, max(0.0, score)), signals


def apply_signals_many(
    text_scores: npt.ArrayLike,
    new: TicketFacts,
    *,
    ids: Sequence[int],
    products: Sequence[str | None],
    organization_ids: Sequence[int | None],
    created_at: Sequence[datetime | None],
    subjects: Sequence[str],
    new_references: frozenset[int],
    window_days: float = DEFAULT_WINDOW_DAYS,
) -> tuple[npt.NDArray[np.float64], list[dict[str, object]]]:
    """`apply_signals` for many candidates at once (issue 16: ~7 us of Python per candidate
    was a third of the p99), given as columns; a candidate is a chat/messaging ticket when
    `is_channel_subject(subject)` (only asked where it can matter: a conversation minutes
    apart). The same IEEE operations, in the same order, elementwise: the same scores and the
    same signals, key order included."""
    n = len(ids)
    score = np.array(text_scores, dtype=np.float64).reshape(n)
    references = [c in new_references for c in ids] if new_references else [False] * n
    if any(references):
        score = np.where(references, 1.0 - (1.0 - score) * REFERENCE_KEEP, score)
    product_known = [bool(new.product) and bool(p) for p in products]
    same_product = [p == new.product for p in products]
    if any(product_known):
        adjusted = np.where(
            same_product, 1.0 - (1.0 - score) * SAME_PRODUCT_KEEP, score * DIFFERENT_PRODUCT_FACTOR
        )
        score = np.where(product_known, adjusted, score)
    known = new.organization_id is not None
    organization_known = [known and o is not None for o in organization_ids]
    same_organization = [o == new.organization_id for o in organization_ids]
    other_organization = [
        k and not s for k, s in zip(organization_known, same_organization, strict=True)
    ]
    if any(other_organization):
        score = np.where(other_organization, score * DIFFERENT_ORGANIZATION_FACTOR, score)
    timed = [new.created_at is not None and c is not None for c in created_at]
    conversation = [False] * n
    days_apart: list[float] = [0.0] * n
    start = new.created_at
    if start is not None and any(timed):
        seconds = [abs((start - c).total_seconds()) if c is not None else 0.0 for c in created_at]
        days = np.array(seconds, dtype=np.float64) / 86400.0
        if new.channel:
            close = np.flatnonzero(np.array(timed) & (days * 86400.0 <= SAME_CONVERSATION_SECONDS))
            for j in close.tolist():
                conversation[j] = nz.is_channel_subject(subjects[j])
            if any(conversation):
                score = np.where(conversation, 1.0 - (1.0 - score) * SAME_CONVERSATION_KEEP, score)
        span = max(window_days - TIME_DECAY_FREE_DAYS, 1e-9)
        over = np.minimum(np.maximum(days - TIME_DECAY_FREE_DAYS, 0.0), span) / span
        score = np.where(timed, score * (1.0 - (1.0 - TIME_DECAY_FLOOR) * over), score)
        days_apart = round_many(days, 2)
    score = np.minimum(1.0, np.maximum(0.0, score))
    text_rounded = round_many(text_scores, 4)
    signals: list[dict[str, object]] = []
    for j in range(n):
        entry: dict[str, object] = {"text": text_rounded[j]}
        if references[j]:
            entry["references_candidate"] = True
        if product_known[j]:
            entry["same_product"] = same_product[j]
        if organization_known[j]:
            entry["same_organization"] = same_organization[j]
        if timed[j]:
            entry["days_apart"] = days_apart[j]
            if conversation[j]:
                entry["same_conversation"] = True
        signals.append(entry)
    return score, signals


# --- matching sentences --------------------------------------------------------------------
MAX_SENTENCES = 40  # per side; first comments longer than that are logs, not prose
MIN_SENTENCE_SIMILARITY = 0.25
MAX_MATCHING_SENTENCES = 3


def _unit_sentence_vector(sentence: str, model: IdfModel) -> tuple[dict[str, float], float]:
    """A sentence's unit tf-idf vector and its idf mass (how much it says)."""
    vector: dict[str, float] = {}
    for term, tf in Counter(nz.words(sentence)).items():
        vector[term] = _tf_weight(tf) * model.idf(model.vocabulary.get(term, -1))
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return ({t: w / norm for t, w in vector.items()} if norm else {}), norm


def ticket_sentences(
    subject: str, description: str, is_common: Callable[[str], bool] | None = None
) -> list[str]:
    """The subject and the sentences of the normalised first comment, as agents would read
    them, without the account's common lines (`is_common`) and without channel subjects."""
    body = description[:MAX_BODY_CHARS]
    if is_common is not None:
        body = nz.strip_common_lines(body, is_common)
    body = nz.normalise_body(body, keep_lines=True)
    subject_text = nz.normalise_subject(subject)
    if is_common is not None and is_common(nz.subject_key(subject)):
        subject_text = ""
    out = [subject_text] if subject_text else []
    out.extend(nz.split_sentences(body))
    # Only the first MAX_SENTENCES with words are kept: stop looking there (a pasted log has
    # hundreds of "sentences").
    return list(itertools.islice((s for s in out if nz.words(s)), MAX_SENTENCES))


def matching_sentences(
    new_sentences: list[str], candidate_sentences: list[str], model: IdfModel
) -> list[tuple[str, str]]:
    """Best one-to-one pairs (new sentence, candidate sentence), strongest evidence first.

    A pair qualifies by idf-weighted word cosine (>= MIN_SENTENCE_SIMILARITY); pairs are
    ranked by evidence: the cosine times the smaller sentence's idf mass, so two long
    sentences sharing rare words come before two short ones sharing a common word.
    """
    # Only sentence pairs sharing a word can score: walk postings instead of all pairs.
    postings: dict[str, list[tuple[int, float]]] = {}
    mass_old: list[float] = []
    for j, sentence in enumerate(candidate_sentences):
        vector, mass = _unit_sentence_vector(sentence, model)
        mass_old.append(mass)
        for term, w in vector.items():
            postings.setdefault(term, []).append((j, w))
    similarity: dict[tuple[int, int], float] = {}
    mass_new: list[float] = []
    for i, sentence in enumerate(new_sentences):
        vector, mass = _unit_sentence_vector(sentence, model)
        mass_new.append(mass)
        for term, w in vector.items():
            for j, other in postings.get(term, ()):
                similarity[(i, j)] = similarity.get((i, j), 0.0) + w * other
    ranked = sorted(
        (item for item in similarity.items() if item[1] >= MIN_SENTENCE_SIMILARITY),
        key=lambda item: (-item[1] * min(mass_new[item[0][0]], mass_old[item[0][1]]), item[0]),
    )
    used_new: set[int] = set()
    used_candidate: set[int] = set()
    pairs: list[tuple[str, str]] = []
    for (i, j), _value in ranked:
        if len(pairs) >= MAX_MATCHING_SENTENCES:
            break
        if i in used_new or j in used_candidate:
            continue
        used_new.add(i)
        used_candidate.add(j)
        pairs.append((new_sentences[i], candidate_sentences[j]))
    return pairs


@dataclass(frozen=True)
class Match:
    """One candidate's verdict: its score, the sentences that match, and the signals used."""

    candidate_id: int
    score: float
    matching_sentences: list[tuple[str, str]]
    signals: dict[str, object]
