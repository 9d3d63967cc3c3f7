"""Real-life-looking text for sandbox captions, comments and profiles.

Captions and comments mix scripts (Latin, Arabic, Japanese, Chinese, Cyrillic), emoji,
quotes, newlines, empty strings, hashtags such as `#AcmeLaunch` and brand mentions such as
"acme", so normalization and keyword matching downstream meet the text they will meet in
production. Pure functions of a `random.Random`; no I/O.
"""

# fullwidth punctuation in CJK text is the point of this module
# ruff: noqa: RUF001

from __future__ import annotations

import random

BRAND_KEYWORDS = ("acme", "Acme", "ACME", "#AcmeLaunch", "@acme_official")

CAPTION_OPENERS = (
    "Our launch 🚀",
    "New drop is live!",
    "Behind the scenes at the studio 🎬",
    "POV: you finally tried the acme blender",
    "Unboxing the new Acme Pro 📦",
    "Quick tutorial 👇",
    '"Best day ever" — our whole team',
    "Weekend vibes ✨",
    "it's giving... main character energy 💅",
    "لحظات جميلة مع الأصدقاء 🌙",
    "تجربة المنتج الجديد من acme",
    "今日のランチ🍜 最高でした",
    "新しいカメラで撮ってみた 📷",
    "新品上市，快来看看！",
    "第一次尝试这个挑战 😂",
    "Cómo usar el producto en 3 pasos",
    "Ça marche vraiment 😂",
    "Тестируем новинку от ACME",
    "Rate this out of 10 🔥",
    "Wait for it…",
    "Replying to @sam_k: yes it ships worldwide",
    "🔥🔥🔥",
)

CAPTION_EXTRAS = (
    "Link in bio.",
    "Who else needs this?",
    "Day 3 of 30.",
    "Thank you for 10k!! 🙏",
    "Sound on 🔊",
    "Part 2 tomorrow.",
    "Tag a friend who'd love this 👯",
    "Shot on a phone, no filter.",
    "We read every comment ❤️",
    'He said "no way" and then… this',
    "Line one\nline two\nline three",
    "إن شاء الله الأسبوع القادم",
    "また明日！",
    "谢谢大家的支持",
)

HASHTAGS = (
    "#AcmeLaunch",
    "#acme",
    "#fyp",
    "#foryou",
    "#foryoupage",
    "#tech",
    "#innovation",
    "#smallbusiness",
    "#unboxing",
    "#tutorial",
    "#رمضان",
    "#日本",
    "#美食",
    "#viral",
    "#duet",
)

COMMENT_TEXTS = (
    "nice",
    "🔥🔥",
    "😂😂😂",
    "where can I buy this?",
    "Does it work with the old model?",
    "acme never disappoints",
    "ACME please restock 🙏",
    "First!",
    "@maya_lee look at this 😂",
    "\"quoted\" and 'single quoted' text",
    "line one\nline two",
    "how much??",
    "this is so underrated",
    "مرحبا! كم السعر؟",
    "ما شاء الله 😍",
    "かわいい！",
    "これどこで買えますか？",
    "太棒了！",
    "在哪里可以买到？",
    "Супер 👍",
    "Me encanta ❤️",
    "#AcmeLaunch when in Europe?",
    "ok",
    "",
    "I've been using acme for 3 years and honestly it still works like day one, "
    "the only thing I'd change is the cable. Customer support was great too 👏",
)

REPLY_TEXTS = (
    "same!",
    "thank you ❤️",
    "agreed 💯",
    "@acme_official pls answer",
    "check the link in bio",
    "😂",
    "شكراً",
    "ありがとう！",
    "同意",
    "It ships next week, stay tuned!",
)

HANDLE_STEMS = (
    "phoenix",
    "klein_kunkun",
    "sakura.chan",
    "ahmed",
    "li.wei",
    "maya_lee",
    "sam_k",
    "night.owl",
    "el_mago",
    "yuki",
    "fatima.z",
    "dev_dan",
    "olga.v",
    "bruno",
    "chen_xi",
)

DISPLAY_NAMES = (
    "Tik Toker",
    "Acme Official",
    "Maya 🌸",
    "أحمد العلي",
    "さくら",
    "李伟",
    "Olga Volkova",
    "The Daily Bake 🍰",
    "Bruno & Co.",
    'Studio "North"',
)

BIOS = (
    "My bio 🎵",
    "Official account of ACME. Launches every Tuesday 🚀",
    "",
    "Baking & bad jokes\nDMs open",
    "مرحباً بكم في صفحتي",
    "東京在住 / 毎日投稿",
    "努力工作，快乐生活",
)


def caption(rng: random.Random) -> str:
    """A video caption; sometimes empty, often with hashtags or a brand mention."""
    roll = rng.random()
    if roll < 0.07:
        return ""
    if roll < 0.10:
        return " ".join(rng.sample(HASHTAGS, k=3))
    parts = [rng.choice(CAPTION_OPENERS)]
    if rng.random() < 0.45:
        parts.append(rng.choice(CAPTION_EXTRAS))
    if rng.random() < 0.6:
        parts.append(" ".join(rng.sample(HASHTAGS, k=rng.randint(1, 4))))
    if rng.random() < 0.15:
        parts.append("@acme_official")
    return " ".join(parts)


def title(rng: random.Random, video_caption: str) -> str:
    """Most videos have no title; some reuse the caption's first words (max 150 chars)."""
    if rng.random() < 0.7 or not video_caption:
        return ""
    return video_caption.split("\n", 1)[0][:150]


def comment_text(rng: random.Random) -> str:
    return rng.choice(COMMENT_TEXTS)


def reply_text(rng: random.Random) -> str:
    return rng.choice(REPLY_TEXTS)


def handle(rng: random.Random) -> str:
    stem = rng.choice(HANDLE_STEMS)
    return stem if rng.random() < 0.2 else f"{stem}{rng.randint(1, 2025)}"
