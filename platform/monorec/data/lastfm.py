"""Last.FM HetRec-2011: a listened artist is a positive; concepts are each artist's top genre tags.

Tag rule (free-text tags are noisy, so concepts are restricted to genres and styles):
1. A tag is normalised to lower case, and spellings that differ only by spaces or hyphens are
   merged ("hip hop" = "hip-hop"); the most used spelling names the merged tag.
2. Tags that describe no genre or style are dropped: a stop list of opinions, listening
   contexts, vocals, nationalities and instruments (`STOP_TAGS`) and every decade tag ("80s").
3. The vocabulary is the `vocabulary_size` remaining tags applied to the most distinct artists.
4. An artist's concepts are its `tags_per_artist` vocabulary tags applied by the most users
   (ties broken by the tag's overall support); artists without vocabulary tags have none.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from monorec.data.cache import load_cached
from monorec.data.dataset import InteractionData, build_dataset, k_core
from monorec.data.reading import read_delimited

STOP_TAGS = frozenset(
    [
        # opinions and listening contexts
        "seen live",
        "favorites",
        "favourites",
        "favorite",
        "favourite",
        "love",
        "loved",
        "awesome",
        "amazing",
        "beautiful",
        "sexy",
        "cool",
        "epic",
        "<3",
        "catchy",
        "sad",
        "happy",
        "mellow",
        "fun",
        "party",
        "ballad",
        "cover",
        "covers",
        "albums i own",
        "love at first listen",
        "my favorite",
        "best",
        "legend",
        "genius",
        "classic",
        "oldies",
        "guilty pleasure",
        "memories",
        "good",
        # vocals and instruments
        "female vocalists",
        "female vocalist",
        "male vocalists",
        "male vocalist",
        "female",
        "male",
        "piano",
        "guitar",
        # nationalities
        "british",
        "american",
        "usa",
        "uk",
        "german",
        "brazilian",
        "swedish",
        "french",
        "canadian",
        "japanese",
        "finnish",
        "polish",
        "spanish",
        "italian",
        "russian",
        "australian",
        "irish",
        "norwegian",
        "korean",
        "icelandic",
        "dutch",
        "scottish",
        "greek",
    ]
)
DECADE = re.compile(r"^(\d0|(19|20)\d0)'?s$")
ACRONYMS = {"idm": "IDM", "rnb": "RnB", "ebm": "EBM", "edm": "EDM"}


def load_lastfm(
    folder: Path,
    vocabulary_size: int = 50,
    tags_per_artist: int = 3,
    min_users_per_item: int = 1,
    min_items_per_user: int = 1,
) -> InteractionData:
    files = [folder / n for n in ("user_artists.dat", "artists.dat", "tags.dat", "user_taggedartists.dat")]
    options = {
        "vocabulary_size": vocabulary_size,
        "tags_per_artist": tags_per_artist,
        "min_users_per_item": min_users_per_item,
        "min_items_per_user": min_items_per_user,
    }

    def parse(checksum: str) -> InteractionData:
        listens = read_delimited(
            files[0], ["user_id", "item_id", "weight"], sep="\t", header=True, integer=["user_id", "item_id", "weight"]
        )
        listens = k_core(listens[["user_id", "item_id"]], min_users_per_item, min_items_per_user)
        artists = read_delimited(
            files[1], ["item_id", "name", "url", "picture"], sep="\t", header=True, integer=["item_id"]
        )
        tags = read_delimited(
            files[2], ["tag_id", "tag"], sep="\t", header=True, encoding="iso-8859-1", integer=["tag_id"]
        )
        tagged = read_delimited(
            files[3],
            ["user_id", "item_id", "tag_id", "day", "month", "year"],
            sep="\t",
            header=True,
            integer=["user_id", "item_id", "tag_id"],
        )
        table = artists.set_index("item_id")[["name"]]
        table["concepts"] = artist_concepts(tagged, tags, vocabulary_size, tags_per_artist).reindex(table.index)
        return build_dataset("lastfm", listens, table, checksum=checksum)

    return load_cached("lastfm", files, options, parse)


def genre_vocabulary(tagged: pd.DataFrame, tags: pd.DataFrame, size: int) -> pd.DataFrame:
    """The `size` genre/style tags applied to the most artists: columns tag_id, key, label, support."""
    tags = tags.assign(spelling=tags["tag"].str.strip().str.lower())
    tags["key"] = tags["spelling"].str.replace(r"[\s\-]+", "", regex=True)
    tags = tags[~tags["spelling"].isin(STOP_TAGS) & ~tags["spelling"].str.match(DECADE) & tags["key"].ne("")]
    used = tagged.merge(tags[["tag_id", "key", "spelling"]], on="tag_id")
    support = used.drop_duplicates(["key", "item_id"]).groupby("key").size().rename("support")
    top = support.sort_values(ascending=False, kind="stable").head(size)
    spelling = used[used["key"].isin(top.index)].groupby("key")["spelling"].agg(lambda s: s.value_counts().index[0])
    labels = spelling.map(_display_name)
    vocabulary = tags[tags["key"].isin(top.index)][["tag_id", "key"]]
    return vocabulary.assign(label=vocabulary["key"].map(labels), support=vocabulary["key"].map(top))


def artist_concepts(tagged: pd.DataFrame, tags: pd.DataFrame, vocabulary_size: int, per_artist: int) -> pd.Series:
    """Each artist's top `per_artist` vocabulary labels, as a Series of lists indexed by artist id."""
    vocabulary = genre_vocabulary(tagged, tags, vocabulary_size)
    applied = tagged.merge(vocabulary, on="tag_id")
    counts = applied.drop_duplicates(["user_id", "item_id", "key"]).groupby(["item_id", "label"])
    ranked = counts.agg(users=("user_id", "size"), support=("support", "first")).reset_index()
    ranked = ranked.sort_values(["item_id", "users", "support"], ascending=[True, False, False], kind="stable")
    top = ranked.groupby("item_id").head(per_artist)
    return top.groupby("item_id")["label"].agg(list)


def _display_name(spelling: str) -> str:
    return ACRONYMS.get(spelling, spelling.title())
