"""The tokenizer shipped with the package (the embedded default's)."""
import pytest

from decomptune.tokenizer import SHIPPED_TOKENIZER_DIR, load_tokenizer

C_SNIPPETS = [
    "#include <stdio.h>\n\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n    return 0;\n}\n",
    "undefined8 func0(long param_1,int param_2)\n\n{\n  uint uVar1;\n  \n  uVar1 = *(uint *)(param_1 + 4);\n}",
    "char *s = \"héllo wörld ✓\";   /* trailing   spaces */   \r\n",
    "x=a<<3|b>>2;y^=~z&&!w||q?1:0;",
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


@pytest.mark.parametrize("code", C_SNIPPETS)
def test_shipped_tokenizer_round_trips_c_exactly(tokenizer, code):
    ids = tokenizer(code, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == code
    assert tokenizer.unk_token_id not in ids  # byte-level: nothing is unknown


def test_shipped_tokenizer_has_distinct_bos_eos_pad(tokenizer):
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    ids = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}
    assert None not in ids and len(ids) == 3


def test_shipped_tokenizer_adds_bos_only(tokenizer):
    ids = tokenizer("int x;")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.eos_token_id not in ids


def test_shipped_tokenizer_is_fast_small_and_4k(tokenizer):
    assert tokenizer.is_fast
    assert len(tokenizer) == 4096
    shipped_bytes = sum(p.stat().st_size for p in SHIPPED_TOKENIZER_DIR.iterdir())
    assert shipped_bytes < 1_000_000


def test_tiny_is_the_shipped_tokenizer(tokenizer):
    assert load_tokenizer("tiny").get_vocab() == tokenizer.get_vocab()


def test_missing_pad_token_falls_back_to_eos(tokenizer, tmp_path):
    no_pad = load_tokenizer(None)
    no_pad.pad_token = None
    no_pad.save_pretrained(tmp_path)
    reloaded = load_tokenizer(str(tmp_path))
    assert reloaded.pad_token == reloaded.eos_token == "</s>"
    assert reloaded.pad_token_id == tokenizer.eos_token_id


def test_unloadable_tokenizer_says_what_to_give(tmp_path):
    from decomptune.errors import UserError

    with pytest.raises(UserError, match="'tiny' for the tokenizer shipped"):
        load_tokenizer(str(tmp_path / "no-such-tokenizer"))
