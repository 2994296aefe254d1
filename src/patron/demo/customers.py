"""Customers: profile and PII columns, plus the hidden traits that drive their behaviour.

The hidden traits (purchase rate, dropout probability, category affinity, premium taste) are the
"true" parameters later analytics try to recover; they never reach the files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from patron.demo.calendar import DAY, END, HOUR, HOUR_PROFILE, Calendar
from patron.demo.sampling import (
    BoolArray,
    FloatArray,
    IntArray,
    bijection,
    choose,
    cumulative,
    stream,
)
from patron.demo.text import integers, join, local_date, local_time, masked, numbered, pick
from patron.demo.vocab import (
    ACQUISITION,
    BABY_TOP,
    BEAUTY_TOP,
    CATEGORY_TREE,
    CITIES,
    EMAIL_DOMAINS,
    GIVEN_FEMALE,
    GIVEN_MALE,
    ONLINE_CHANNEL_SHARES,
    ORDER_CHANNELS,
    PHONE_PREFIXES,
    SKIN_TYPES,
    SURNAMES,
    TIER_WEIGHT,
)

# Buy-till-you-die parameters (BG/NBD): purchase rate λ ~ Gamma(r, 1/α) per day of average
# traffic while alive, dropout after each purchase with probability p ~ Beta(a, b).
RATE_SHAPE = 0.6
RATE_SCALE = 1 / 30
DROPOUT_A = 1.3
DROPOUT_B = 2.6
NEVER_BUY = 0.10
"""Share of registered customers who never buy (potential customers)."""
SIGNED_UP_BEFORE = 0.55
"""Share of customers registered before the period (their older orders are not in the files)."""
HISTORY_DAYS = 4 * 365
GENDERS = ("F", "M", "O")
GENDER_SHARES = (0.57, 0.39, 0.02, 0.02)
"""F, M, O and not given."""
AFFINITY_CONCENTRATION = 0.6
"""Dirichlet concentration per category: low, so each customer shops mostly one or two."""


@dataclass(frozen=True, slots=True)
class Customers:
    signup: IntArray
    """Seconds since the period start; negative for customers registered before it."""
    gender: IntArray
    """Index into GENDERS; 3 when not given."""
    city: IntArray
    acquisition: IntArray
    affinity_cum: FloatArray
    """Cumulative category affinity per customer over the top categories."""
    taste: FloatArray
    """Premium taste: positive customers pick dearer products within a category."""
    basket: FloatArray
    """Logit of adding one more line to an order: big-basket versus single-item shoppers."""
    has_baby: BoolArray
    baby_birth: IntArray
    """Seconds since the period start: the baby at home (or in the family, for customers
    without one) whose age decides the infant-formula stage bought."""
    channel: IntArray
    """Preferred order channel (index into ORDER_CHANNELS)."""
    buyer: BoolArray
    rate: FloatArray
    dropout: FloatArray
    review_propensity: FloatArray
    table: pa.Table

    @property
    def size(self) -> int:
        return int(self.signup.size)


def customer_id(index: IntArray) -> pa.Array:
    return numbered("C", index + 1, 6)


def build_customers(n: int, seed: int, calendar: Calendar) -> Customers:
    rng = stream(seed, "customers")
    signup = _signups(n, calendar, rng)
    gender = choose(np.array(GENDER_SHARES), n, rng)
    age_days = _age_days(n, rng)
    city = choose(np.array([TIER_WEIGHT[t] for _, _, t in CITIES]), n, rng)
    acquisition = choose(np.array([a[1] for a in ACQUISITION]), n, rng)
    affinity = _affinity(gender, rng)
    top_names = [t.name for t in CATEGORY_TREE]
    baby_share = affinity[:, top_names.index(BABY_TOP)]
    parent_age = (age_days > 22 * 365) & (age_days < 42 * 365)
    has_baby = ((baby_share > 0.2) & parent_age) | (rng.random(n) < 0.02)
    baby_birth = rng.integers(-300 * DAY, END - 60 * DAY, size=n)
    taste = rng.normal(size=n)
    buyer = rng.random(n) >= NEVER_BUY
    rate, dropout = _btyd_traits(acquisition, buyer, rng)
    traits = Customers(
        signup=signup,
        gender=gender,
        city=city,
        acquisition=acquisition,
        affinity_cum=cumulative(affinity),
        taste=taste,
        basket=rng.normal(-1.8, 0.5, size=n) + 0.3 * taste,
        has_baby=has_baby,
        baby_birth=baby_birth,
        channel=_preferred_channel(acquisition, rng),
        buyer=buyer,
        rate=rate,
        dropout=dropout,
        review_propensity=rng.beta(0.8, 3.5, size=n),
        table=pa.table({}),
    )
    beauty = affinity[:, top_names.index(BEAUTY_TOP)] > 0.2
    table = _table(traits, age_days, beauty, rng)
    return replace(traits, table=table)


def _signups(n: int, calendar: Calendar, rng: np.random.Generator) -> IntArray:
    """Registration times, sorted so that customer ids follow registration order."""
    before = rng.random(n) < SIGNED_UP_BEFORE
    # Older registrations thin out: the shop grew into the period.
    days_back = np.floor(HISTORY_DAYS * rng.random(n) ** 1.3).astype(np.int64) + 1
    hour = choose(np.array(HOUR_PROFILE), n, rng)
    old = -days_back * DAY + hour * HOUR + rng.integers(0, HOUR, size=n)
    new = calendar.to_calendar(rng.random(n) * calendar.operational_end)
    return np.sort(np.where(before, old, new))


def _age_days(n: int, rng: np.random.Generator) -> IntArray:
    years = np.clip(18 + rng.gamma(4.0, 3.6, size=n), 18, 72)
    return np.asarray(np.floor(years * 365.25), dtype=np.int64)


def _affinity(gender: IntArray, rng: np.random.Generator) -> FloatArray:
    shares = np.array([t.share for t in CATEGORY_TREE])
    alpha = AFFINITY_CONCENTRATION * len(shares) * shares / shares.sum()
    raw = rng.dirichlet(alpha, size=gender.size)
    female = np.array([t.female for t in CATEGORY_TREE])
    male = np.array([t.male for t in CATEGORY_TREE])
    tilt = np.where((gender == 0)[:, None], female, np.where((gender == 1)[:, None], male, 1.0))
    weighted = raw * tilt + 1e-6
    return np.asarray(weighted / weighted.sum(axis=1, keepdims=True), dtype=np.float64)


def _btyd_traits(
    acquisition: IntArray, buyer: BoolArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Purchase rate and dropout probability, shifted by how the customer was acquired."""
    n = acquisition.size
    rate_mult = np.array([a[2] for a in ACQUISITION])[acquisition]
    drop_mult = np.array([a[3] for a in ACQUISITION])[acquisition]
    rate = rng.gamma(RATE_SHAPE, RATE_SCALE, size=n) * rate_mult
    dropout = np.clip(rng.beta(DROPOUT_A, DROPOUT_B, size=n) * drop_mult, 0.01, 0.95)
    return np.where(buyer, rate, 0.0), dropout


def _preferred_channel(acquisition: IntArray, rng: np.random.Generator) -> IntArray:
    n = acquisition.size
    online = choose(np.array(ONLINE_CHANNEL_SHARES), n, rng)
    offline = np.array([a[0] for a in ACQUISITION]).tolist().index("offline")
    in_store = (acquisition == offline) & (rng.random(n) < 0.6)
    return np.where(in_store, ORDER_CHANNELS.index("store"), online)


def _table(
    c: Customers, age_days: IntArray, beauty: BoolArray, rng: np.random.Generator
) -> pa.Table:
    n = c.size
    index = np.arange(n, dtype=np.int64)
    names = _names(c.gender, rng)
    email, has_email = _emails(names, index, rng)
    phone, has_phone = _phones(index, rng)
    birth_missing = rng.random(n) < 0.12
    app_user = c.channel == ORDER_CHANNELS.index("app")
    baby_month = pc.utf8_slice_codeunits(local_date(c.baby_birth // DAY), 0, 7)
    return pa.table(
        {
            "customer_id": customer_id(index),
            "name": names.hanzi(),
            "email": email,
            "phone": phone,
            "gender": pick(GENDERS, np.minimum(c.gender, 2), c.gender == 3),
            "birth_date": local_date(-age_days - rng.integers(0, 365, size=n), birth_missing),
            "region": pick([p for p, _, _ in CITIES], c.city),
            "city": pick([city for _, city, _ in CITIES], c.city),
            "city_tier": integers(np.array([t for _, _, t in CITIES], dtype=np.int64)[c.city]),
            "signup_at": local_time(c.signup),
            "acquisition_channel": pick([a[0] for a in ACQUISITION], c.acquisition),
            "consent_email": pa.array(has_email & (rng.random(n) < 0.4)),
            "consent_sms": pa.array(has_phone & (rng.random(n) < 0.55)),
            "consent_push": pa.array(rng.random(n) < np.where(app_user, 0.65, 0.3)),
            "attr_member_source": pick([a[4] for a in ACQUISITION], c.acquisition),
            "attr_skin_type": pick(
                SKIN_TYPES,
                rng.integers(0, len(SKIN_TYPES), size=n),
                ~beauty | (rng.random(n) < 0.3),
            ),
            "attr_baby_birth": masked(baby_month, ~c.has_baby | (rng.random(n) < 0.15)),
            "attr_wechat_follower": pa.array(rng.random(n) < 0.35),
        }
    )


@dataclass(frozen=True, slots=True)
class _Names:
    """Indices of each customer's surname and given-name characters (empty second: single)."""

    surname: IntArray
    first: IntArray
    second: IntArray

    @property
    def empty(self) -> int:
        return len(GIVEN_FEMALE) + len(GIVEN_MALE)

    def hanzi(self) -> pa.Array:
        chars = [g for g, _ in GIVEN_FEMALE] + [g for g, _ in GIVEN_MALE] + [""]
        surnames = [s for s, _ in SURNAMES]
        return join(
            [pick(surnames, self.surname), pick(chars, self.first), pick(chars, self.second)]
        )

    def pinyin(self) -> pa.Array:
        syllables = [p for _, p in GIVEN_FEMALE] + [p for _, p in GIVEN_MALE] + [""]
        surnames = [p for _, p in SURNAMES]
        parts = [pick(surnames, self.surname), pick(syllables, self.first)]
        return join([*parts, pick(syllables, self.second)])


def _names(gender: IntArray, rng: np.random.Generator) -> _Names:
    """Common surnames far more often than rare ones; given names by gender, one or two chars."""
    n = gender.size
    rank = np.arange(1, len(SURNAMES) + 1, dtype=np.float64)
    surname = choose(rank**-0.7, n, rng)
    either = rng.integers(0, 2, size=n)
    pool = np.where(gender == 0, 0, np.where(gender == 1, 1, either)) * len(GIVEN_FEMALE)
    first = pool + rng.integers(0, len(GIVEN_FEMALE), size=n)
    second = pool + rng.integers(0, len(GIVEN_FEMALE), size=n)
    names = _Names(surname, first, second)
    return _Names(surname, first, np.where(rng.random(n) < 0.35, names.empty, second))


def _emails(names: _Names, index: IntArray, rng: np.random.Generator) -> tuple[pa.Array, BoolArray]:
    """Pinyin or QQ-number mailboxes; about four customers in ten never gave an email."""
    n = index.size
    has = rng.random(n) < 0.6
    qq = rng.random(n) < 0.35
    number = pa.array(bijection(index, 1_000_000, rng)).cast(pa.string())
    qq_number = pa.array(10_000_000 + bijection(index, 90_000_000, rng)).cast(pa.string())
    domain = choose(np.ones(len(EMAIL_DOMAINS), dtype=np.float64), n, rng)
    named = join([names.pinyin(), number, "@", pick(EMAIL_DOMAINS, domain)])
    email = pc.if_else(pa.array(qq), join([qq_number, "@qq.com"]), named)
    return masked(email, ~has), has


def _phones(index: IntArray, rng: np.random.Generator) -> tuple[pa.Array, BoolArray]:
    n = index.size
    has = rng.random(n) < 0.97
    prefix = rng.integers(0, len(PHONE_PREFIXES), size=n)
    digits = pc.utf8_lpad(pa.array(bijection(index, 100_000_000, rng)).cast(pa.string()), 8, "0")
    return masked(join([pick(PHONE_PREFIXES, prefix), digits]), ~has), has
