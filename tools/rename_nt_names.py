"""One-off mechanical rename (issue 12; run from the repo root, then `ruff check --fix`) of the paper-semantics functions that carried neural-tangents' names (issue 12).

gradient_descent_mse_ensemble -> qsntk_mse_ensemble, gradient_descent_mse -> qsntk_mse_predictor,
max_learning_rate (the function) -> qsntk_eta_max, gp_inference -> nngp_posterior.
Kept: neural-tangents' own names (nt.predict.*, nnqs_fast.nt.*), dispatch keys ("dynamics.gradient_descent_mse"...),
max_learning_rate as a keyword / attribute / JSON key / max_learning_rate_for, the private _max_learning_rate.
"""
import re
import subprocess
import sys

SKIP = {"python/nnqs_fast/nt/__init__.py", "python/nnqs_fast/nt/predict.py", "bench/peers/nt_reference_data.py",
        "bench/peers/_nt_worker.py", "tests/interop/test_nt_compat.py",
        # written after the rename, naming NT's functions on purpose
        "README.md", "docs/interop.md", "python/nnqs_fast/_renamed.py", "tests/test_nt_names.py",
        "tools/rename_nt_names.py"}
KEEP_BEFORE = r"(?<!NT's ``)(?<!neural-tangents' ``)(?<!nt\.predict\.)(?<![\"']dynamics\.)(?<!\bnt\.)(?<![\w])"
RULES = [
    (re.compile(KEEP_BEFORE + r"gradient_descent_mse_ensemble\b"), "qsntk_mse_ensemble"),
    (re.compile(KEEP_BEFORE + r"gradient_descent_mse\b"), "qsntk_mse_predictor"),
    (re.compile(KEEP_BEFORE + r"gp_inference\b"), "nngp_posterior"),
]
MLR_CALL = re.compile(r"(?<!NT's ``)(?:(?<![.\w])|(?<=kernels\.)|(?<=spectrum\.)|(?<=\bnf\.)|(?<=nnqs_fast\.))max_learning_rate(?=\()")
MLR_TICK = re.compile(r"(?<=`)((?:~?nnqs_fast\.)?(?:kernels\.)?(?:spectrum\.)?)max_learning_rate(?=`)")
MLR_IMPORT = re.compile(r"\bmax_learning_rate\b(?!_for)")


def fix_mlr(text: str) -> str:
    text = MLR_CALL.sub("qsntk_eta_max", text)
    text = MLR_TICK.sub(r"\1qsntk_eta_max", text)
    # import statements (single- or multi-line parenthesised)
    out = []
    in_import = False
    for line in text.splitlines(keepends=True):
        s = line.strip()
        starts = bool(re.match(r"(from\s+\S+\s+)?import\s", s))
        if starts or in_import:
            if not (".nt" in s and starts):
                line = MLR_IMPORT.sub("qsntk_eta_max", line)
            if starts:
                in_import = s.endswith("(") or ("(" in s and ")" not in s)
            elif ")" in s:
                in_import = False
        out.append(line)
    return "".join(out)


# hand fix-ups of the regex pass: attributes, keyword arguments and JSON keys keep "max_learning_rate"
FIXUPS = [
    ("python/nnqs_fast/dynamics/predict.py", "    def qsntk_eta_max(self) -> float:", "    def max_learning_rate(self) -> float:"),
    ("python/nnqs_fast/kernels/spectrum.py", '"qsntk_eta_max": self.max_learning_rate', '"max_learning_rate": self.max_learning_rate'),
    ("docs/kernels.md", "`condition_number`, `qsntk_eta_max`,", "`condition_number`, `max_learning_rate`,"),
    ("docs/training.md", "`learning_rate`, `qsntk_eta_max`, `members_done`", "`learning_rate`, `max_learning_rate`, `members_done`"),
    ("python/nnqs_fast/training/trainer.py", "``qsntk_eta_max`` skips computing", "``max_learning_rate`` skips computing"),
    ("tests/fuzz/fuzz_cases.py", "nf.max_learning_rate)", "nf.qsntk_eta_max)"),
    ("tests/fuzz/fuzz_cases.py", "fn is nf.max_learning_rate:", "fn is nf.qsntk_eta_max:"),
    ("examples/netket_predicted_training.py", "(nnqs_fast.max_learning_rate of", "(nnqs_fast.qsntk_eta_max of"),
    ("tests/gpu/test_gpu_dynamics.py", "def test_gradient_descent_mse_", "def test_qsntk_mse_predictor_"),
    ("tests/gpu/test_gpu_dynamics.py", "def test_ensemble_and_gp_inference_", "def test_ensemble_and_nngp_posterior_"),
    ("tests/dynamics/test_ensemble.py", "def test_gp_inference_equals", "def test_nngp_posterior_equals"),
]

files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
for f in files:
    if f in SKIP or not f.endswith((".py", ".md", ".txt", ".toml", ".pyi", ".rst")):
        continue
    try:
        t = open(f, encoding="utf-8").read()
    except UnicodeDecodeError:
        continue
    n = t
    for rx, rep in RULES:
        n = rx.sub(rep, n)
    n = fix_mlr(n)
    if f == "python/nnqs_fast/kernels/__init__.py" or f == "python/nnqs_fast/kernels/spectrum.py":
        n = n.replace('"max_learning_rate"', '"qsntk_eta_max"')
    for fix_file, old, new in FIXUPS:
        if f == fix_file:
            n = n.replace(old, new)
    if n != t:
        open(f, "w", encoding="utf-8").write(n)
        print("changed", f, file=sys.stderr)
