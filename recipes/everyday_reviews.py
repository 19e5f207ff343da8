"""Written everyday sentences (praise, complaints, plain statements) for tuning the text layers.

Why: the text layers learn from SST-2 (movie reviews), MOSI (spoken film opinions) and MELD
(sitcom dialogue). None of them talks about orders, repairs, hotels, apps or support lines, so
the tuned encoder reads "solved my problem within minutes" as negative (it has learnt "problem"
and "minutes" from film reviews) and "made my stay easier" as a complaint. These sentences
cover that register: they are composed from subjects, predicates and frames written for this
file (none is copied from any test set), with counter-cues on purpose: positive sentences that
mention problems, waiting or time spans, and negative ones that mention praise words under
negation. A third are plain statements about the same things (target neutral), so that the
domain's words do not read as an opinion by themselves: without them, "The hotel is next to
the station." read as praise. Each sentence's sign is fixed by construction; mixed opinions
are not generated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    """What people review in one area of life, and what they say about it. ``{be}`` in a
    predicate agrees with the subject; the other predicates fit any subject."""

    subjects: tuple[tuple[str, bool], ...]  # (subject, is plural)
    praise: tuple[str, ...]
    complaints: tuple[str, ...]
    # plain statements with no opinion: they keep the domain's words from reading as praise or
    # complaint on their own (target: neutral)
    plain: tuple[str, ...]


_DOMAINS: dict[str, Domain] = {
    "restaurant": Domain(
        subjects=(
            ("the pasta", False),
            ("our waitress", False),
            ("the soup", False),
            ("the portions", True),
            ("the kitchen staff", True),
            ("the burger", False),
            ("the dessert menu", False),
            ("the lunch special", False),
            ("the curry", False),
        ),
        praise=(
            "tasted amazing",
            "{be} fresh and full of flavour",
            "came out hot and fast",
            "{be} attentive without being pushy",
            "{be} cooked just right",
            "{be} generous",
        ),
        complaints=(
            "tasted like cardboard",
            "{be} bland and overpriced",
            "came out lukewarm",
            "{be} greasy and soggy",
            "{be} undercooked",
            "took forever and {be} wrong anyway",
        ),
        plain=("came with rice and salad", "{be} on the lunch menu", "{be} served at seven"),
    ),
    "hotel": Domain(
        subjects=(
            ("the bed", False),
            ("the receptionist", False),
            ("the bathroom", False),
            ("the breakfast buffet", False),
            ("the pool", False),
            ("the apartment", False),
            ("the hosts", True),
            ("the sheets", True),
            ("the location", False),
        ),
        praise=(
            "{be} comfortable and quiet",
            "{be} immaculate",
            "made us feel at home",
            "{be} lovely and well looked after",
            "{be} perfect for exploring the town",
            "{be} warm and welcoming",
        ),
        complaints=(
            "{be} filthy",
            "{be} mouldy and cramped",
            "{be} noisy until dawn",
            "{be} not as advertised",
            "{be} unfriendly and unhelpful",
            "had hair and stains everywhere",
        ),
        plain=("{be} on the second floor", "{be} booked for the weekend", "faces the car park"),
    ),
    "product": Domain(
        subjects=(
            ("the blender", False),
            ("this kettle", False),
            ("the vacuum cleaner", False),
            ("the laptop", False),
            ("these earbuds", True),
            ("the printer", False),
            ("the mattress", False),
            ("this backpack", False),
            ("the camera", False),
            ("the drill", False),
            ("these boots", True),
            ("the desk chair", False),
        ),
        praise=(
            "works flawlessly",
            "{be} sturdy and well made",
            "does exactly what it promises",
            "{be} worth every penny",
            "still works like new after a year",
            "{be} a joy to use",
            "{be} easy to assemble",
        ),
        complaints=(
            "broke after two uses",
            "{be} flimsy and cheaply made",
            "stopped charging in a month",
            "{be} a complete rip-off",
            "died the day after the warranty ended",
            "arrived with a cracked case",
            "{be} uncomfortable and badly stitched",
        ),
        plain=("comes in black or grey", "{be} bought last spring", "has two charging ports"),
    ),
    "service": Domain(
        subjects=(
            ("the support team", False),
            ("the technician", False),
            ("the plumber", False),
            ("the bank", False),
            ("the agent on the phone", False),
            ("the mechanic", False),
            ("the landlord", False),
            ("the insurance company", False),
        ),
        praise=(
            "fixed the issue on the first visit",
            "sorted out my problem quickly",
            "answered all my questions patiently",
            "went out of their way to help",
            "called back the same afternoon",
            "{be} honest and fairly priced",
        ),
        complaints=(
            "never called back",
            "kept me on hold for an hour and hung up",
            "ignored every complaint",
            "made the problem worse",
            "charged for work never done",
            "{be} rude and dismissive",
        ),
        plain=("came round at ten", "asked for my account number", "phoned on Monday morning"),
    ),
    "delivery": Domain(
        subjects=(
            ("my parcel", False),
            ("the order", False),
            ("the courier", False),
            ("the delivery", False),
            ("the refund", False),
            ("the replacement", False),
        ),
        praise=(
            "arrived a day early",
            "came well packed and undamaged",
            "{be} quick and painless",
            "{be} processed without any fuss",
            "turned up exactly on time",
        ),
        complaints=(
            "arrived crushed",
            "never arrived",
            "{be} three weeks late",
            "{be} left in the rain",
            "still has not been processed",
            "came with parts missing",
        ),
        plain=("came on Friday", "{be} handed to a neighbour", "{be} sent by post"),
    ),
    "software": Domain(
        subjects=(
            ("the app", False),
            ("the new update", False),
            ("the website", False),
            ("the booking system", False),
            ("the online banking", False),
            ("the game", False),
        ),
        praise=(
            "runs smoothly",
            "{be} intuitive and fast",
            "makes everything easier",
            "has not frozen once",
            "{be} beautifully designed",
        ),
        complaints=(
            "keeps freezing",
            "logs me out constantly",
            "{be} full of bugs",
            "drains my battery",
            "deleted all my saved data",
            "{be} confusing and slow",
        ),
        plain=("{be} updated in June", "has a dark mode", "needs a password to open"),
    ),
    "travel": Domain(
        subjects=(
            ("the flight", False),
            ("the train", False),
            ("the cabin crew", True),
            ("the bus driver", False),
            ("the seats", True),
            ("the ferry", False),
            ("the tour", False),
            ("the guide", False),
        ),
        praise=(
            "left right on time",
            "{be} comfortable and clean",
            "{be} friendly and professional",
            "{be} the highlight of our trip",
            "{be} relaxed and well organised",
        ),
        complaints=(
            "{be} cancelled without warning",
            "{be} cramped and dirty",
            "lost our luggage",
            "{be} rushed and disorganised",
            "{be} a total shambles",
        ),
        plain=("left from platform four", "stopped twice on the way", "{be} about an hour long"),
    ),
    "care": Domain(
        subjects=(
            ("the dentist", False),
            ("the doctor", False),
            ("the vet", False),
            ("the teacher", False),
            ("the course", False),
            ("the hairdresser", False),
            ("the gym", False),
            ("the nursery staff", True),
            ("the physio", False),
        ),
        praise=(
            "{be} gentle and reassuring",
            "took the time to explain each step",
            "really listened to us",
            "{be} worth the money",
            "made a real difference",
        ),
        complaints=(
            "{be} careless and rushed",
            "did not listen at all",
            "made things worse",
            "{be} a waste of time",
            "{be} late and unprepared",
        ),
        plain=("{be} on Wednesdays", "lasted forty minutes", "{be} in the town centre"),
    ),
}

# Whole sentences and short verdicts; "{obj}" is a subject from any domain.
_POSITIVE_FRAMES = (
    "I love {obj}.",
    "I am so glad we chose {obj}.",
    "I would happily pay for {obj} again.",
    "{Obj} made our week.",
    "No complaints at all about {obj}.",
    "We had no problems with {obj}.",
    "Not a single issue with {obj} so far.",
    "{Obj} never let us down.",
    "I can't fault {obj}.",
    "{Obj} could not have been better.",
)
_NEGATIVE_FRAMES = (
    "I regret paying for {obj}.",
    "Avoid {obj} at all costs.",
    "I would not recommend {obj}.",
    "{Obj} ruined our week.",
    "Nothing about {obj} was any good.",
    "{Obj} {be} not worth it.",
    "I will never use {obj} again.",
    "{Obj} {be} anything but pleasant.",
    "Sadly, {obj} {be} not good at all.",
    "{Obj} {be} a letdown from start to finish.",
)
_NEUTRAL_FRAMES = (
    "I bought {obj} last month.",
    "We used {obj} on Saturday.",
    "I asked about {obj} at the desk.",
    "My sister told me about {obj}.",
    "{Obj} {be} the second one we tried.",
    "I wrote down the name of {obj}.",
    "We talked about {obj} over dinner.",
)
_POSITIVE_TAILS = (
    "Highly recommended.",
    "Five stars.",
    "We will be back.",
    "Would buy again.",
    "Thank you!",
    "Brilliant.",
    "Very happy.",
)
_NEGATIVE_TAILS = (
    "Never again.",
    "One star.",
    "Avoid.",
    "I want my money back.",
    "Very disappointed.",
    "Terrible.",
    "Not happy at all.",
)


@dataclass(frozen=True)
class Review:
    text: str
    sign: int  # +1, -1, or 0 for a plain statement


def _clause(rng: random.Random, sign: int) -> str:
    domain = _DOMAINS[rng.choice(sorted(_DOMAINS))]
    subject, plural = rng.choice(domain.subjects)
    predicate = rng.choice({1: domain.praise, -1: domain.complaints, 0: domain.plain}[sign])
    return f"{subject} {predicate.format(be='were' if plural else 'was')}"


def _frame(rng: random.Random, sign: int) -> str:
    subjects = [s for d in _DOMAINS.values() for s in d.subjects]
    obj, plural = rng.choice(subjects)
    frame = rng.choice({1: _POSITIVE_FRAMES, -1: _NEGATIVE_FRAMES, 0: _NEUTRAL_FRAMES}[sign])
    return frame.format(obj=obj, Obj=obj[0].upper() + obj[1:], be="were" if plural else "was")


def _sentence(rng: random.Random, sign: int) -> str:
    form = rng.random()
    if form < 0.45:
        text = _clause(rng, sign) + "."
    elif form < 0.75:
        text = f"{_clause(rng, sign)} and {_clause(rng, sign)}."
    else:
        text = _frame(rng, sign)
    if sign and rng.random() < 0.3:
        text += " " + rng.choice(_POSITIVE_TAILS if sign > 0 else _NEGATIVE_TAILS)
    return text[0].upper() + text[1:]


def everyday_reviews(count: int, seed: int = 0) -> list[Review]:
    """``count`` distinct sentences, a third each positive, negative and plain, in a fixed order
    for ``seed``."""
    rng = random.Random(seed)
    seen: set[str] = set()
    reviews: list[Review] = []
    attempts = 0
    while len(reviews) < count and attempts < count * 50:
        attempts += 1
        sign = (1, -1, 0)[len(reviews) % 3]
        text = _sentence(rng, sign)
        if text not in seen:
            seen.add(text)
            reviews.append(Review(text, sign))
    return reviews
