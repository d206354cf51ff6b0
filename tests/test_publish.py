"""The model card and `decomptune push`, against a local mock of the Hub's HTTP API
(127.0.0.1, HF_ENDPOINT pointing at it): no network needed, so it always runs."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from decomptune.cli import main as cli_main
from decomptune.config import RunConfig, save_config
from decomptune.model_card import build_model_card
from decomptune.prompts import save_template

REPO_ID = "someone/tiny-decompile"


class MockHub:
    """Answers the calls huggingface_hub makes to create a repo and commit files; records them."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict, bytes]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append((self.command, self.path, dict(self.headers), body))
                code, reply = hub.reply(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, path: str, body: bytes) -> tuple[int, dict]:
        if path == "/api/repos/create":
            req = json.loads(body)
            return 200, {"url": f"{self.url}/{req['organization']}/{req['name']}"}
        if path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}
        if "/preupload/" in path:  # every file inline in the commit (no LFS round trip)
            files = json.loads(body)["files"]
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
        if "/commit/" in path:
            repo = path.split("/api/models/", 1)[1].split("/commit/", 1)[0]
            return 200, {"commitUrl": f"{self.url}/{repo}/commit/{'a' * 40}", "commitOid": "a" * 40}
        return 404, {"error": f"{path} is not mocked"}

    def committed_files(self) -> dict[str, bytes]:
        commits = [body for method, path, _, body in self.requests if "/commit/" in path]
        assert len(commits) == 1, [p for _, p, _, _ in self.requests]
        files = {}
        for line in commits[0].decode().splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
        return files

    def close(self):
        self.server.shutdown()


@pytest.fixture
def model_dir(tmp_path):
    """What a finished run leaves: weights, tokenizer, prompt, config, metrics, an eval report, leftovers."""
    from transformers import LlamaForCausalLM

    from decomptune.models.tiny import tiny_llama_config
    from decomptune.tokenizer import load_tokenizer

    out = tmp_path / "run"
    tokenizer = load_tokenizer(None)
    LlamaForCausalLM(tiny_llama_config(vocab_size=len(tokenizer))).save_pretrained(out)
    tokenizer.save_pretrained(out)
    cfg = RunConfig()
    cfg.model.model_name_or_path = "tiiuae/Falcon3-7B-Base"
    cfg.data.data_path = "LLM4Binary/decompile-ghidra-100k"
    cfg.layout.tp, cfg.layout.zero_stage = 2, 1
    cfg.train.per_device_train_batch_size, cfg.train.gradient_accumulation_steps = 4, 8
    save_config(cfg, out / "decomptune_config.yaml")
    save_template(out, "llm4decompile")
    (out / "decomptune_run.json").write_text(json.dumps({"processes": 8, "nodes": 2}))
    rows = [{"step": 10, "loss": 2.5, "learning_rate": 1e-5}, {"step": 20, "loss": 1.25, "learning_rate": 5e-6},
            {"step": 20, "eval/reexec_rate": 0.375, "eval/compile_rate": 0.75},
            {"step": 20, "train_runtime": 3600.0, "train_loss": 1.8}]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "eval").mkdir()
    levels = {lv: {"rows": 4, "reexec_rate": r, "compile_rate": 90.0, "edit_similarity": 40.0}
              for lv, r in zip(("O0", "O1", "O2", "O3"), (50.0, 25.0, 25.0, 0.0))}
    (out / "eval" / "report.json").write_text(json.dumps({
        "levels": levels, "total": {"rows": 16}, "average": {"reexec_rate": 25.0, "compile_rate": 90.0,
                                                               "edit_similarity": 40.0}}))
    for leftover in ("checkpoints/step-20/layer_00-model_states.pt", "wandb/offline-run-x/run-x.wandb",
                     "tensorboard/events.out.tfevents.1"):
        (out / leftover).parent.mkdir(parents=True, exist_ok=True)
        (out / leftover).write_bytes(b"not for the hub")
    return out


def test_model_card_names_base_model_data_prompt_layout_settings_and_evals(model_dir):
    card = build_model_card(model_dir, REPO_ID)
    meta = card.split("---")[1]
    assert "base_model: tiiuae/Falcon3-7B-Base" in meta and "LLM4Binary/decompile-ghidra-100k" in meta
    assert "# This is the assembly code:\n{}\n# What is the source code?" in card  # the trained prompt
    assert "tp=2, pp=1, dp=4, ZeRO-1" in card and "| processes / nodes | 8 / 2 |" in card
    assert "4 per device x 8 accumulation x 4 replicas = 128" in card
    assert "2.5000 (first log) -> 1.2500 (last log)" in card
    assert "| O0 | 4 | 50.00 |" in card and "| **average** | 16 | 25.00 |" in card  # eval/report.json
    assert "| reexec_rate | 37.5 % |" in card  # the last in-training evaluation
    assert f'repo = "{REPO_ID}"' in card


def test_card_of_a_directory_that_is_no_training_output_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="decomptune_config.yaml not found"):
        build_model_card(tmp_path)


def test_push_uploads_the_model_and_card_but_not_training_leftovers(model_dir, monkeypatch, capsys):
    from huggingface_hub import constants

    hub = MockHub()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # `make test` exports HF_HUB_OFFLINE=1
    try:
        assert cli_main(["push", str(model_dir), "--repo", REPO_ID, "--token", "hf_test_token"]) == 0
    finally:
        hub.close()
    creates = [(h, json.loads(b)) for m, p, h, b in hub.requests if p == "/api/repos/create"]
    assert len(creates) == 1 and (creates[0][1]["organization"], creates[0][1]["name"]) == ("someone", "tiny-decompile")
    assert creates[0][0].get("authorization") == "Bearer hf_test_token"

    files = hub.committed_files()
    for name in ("README.md", "config.json", "model.safetensors", "tokenizer.json", "decomptune_prompt.txt",
                 "decomptune_config.yaml", "metrics.jsonl", "eval/report.json"):
        assert files[name] == (model_dir / name).read_bytes(), name
    assert not [p for p in files if p.split("/")[0] in ("checkpoints", "wandb", "tensorboard")], sorted(files)
    assert f"# {REPO_ID}" in files["README.md"].decode()  # the card was refreshed for the repo
    assert f"{REPO_ID}/commit/" in capsys.readouterr().out


def test_push_refuses_offline_mode_and_directories_without_a_model(model_dir, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert cli_main(["push", str(model_dir), "--repo", REPO_ID]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
    assert cli_main(["push", str(tmp_path / "empty"), "--repo", REPO_ID]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "nomodel").mkdir()
    assert cli_main(["push", str(tmp_path / "nomodel"), "--repo", REPO_ID]) == 2
    assert "decomptune export" in capsys.readouterr().err
