# lit configuration of the seqc test suite.
import os
import shutil
import subprocess

import lit.formats
import lit.Test
from lit.llvm import llvm_config

config.name = "seqc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".seq", ".test"]
config.excludes = ['lib', "lit.cfg.py", "lit.site.cfg.py", "Inputs", "corpus", "example_format.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.seqc_obj_root, "test")
config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"
# seqc verifies the IR after each phase; the suite has it verified after
# every pass, so that a pass that breaks the IR is the one that fails.
config.environment["SEQC_VERIFY_EACH"] = "1"

# Under `make test-sanitize` a sanitizer report aborts the process: a test
# of an error (`not seqc ...`) then fails too, as `not` does not accept a
# crash.
if config.seqc_sanitize:
    config.environment["ASAN_OPTIONS"] = "abort_on_error=1:detect_leaks=1"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:abort_on_error=1"
    config.available_features.add("sanitize")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.seqc_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["seqc", "seq-opt"], [config.seqc_tools_dir])
config.substitutions.append(("%examples", os.path.join(config.seqc_src_root, "examples")))
config.substitutions.append(("%seqc_src", config.seqc_src_root))
config.substitutions.append(("%seqc_obj", config.seqc_obj_root))
# MLIR's runner libraries, for tests that execute lowered IR with mlir-runner.
runner_libs = os.path.normpath(os.path.join(config.llvm_tools_dir, "..", "lib"))
config.substitutions.append(("%runner_utils", ",".join(
    os.path.join(runner_libs, name) for name in ("libmlir_c_runner_utils.so", "libmlir_runner_utils.so"))))

# GPU-facing tests: `ptxas` checks PTX without a GPU; `cuda-device` needs one.
if os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
if shutil.which("nvidia-smi") and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0:
    config.available_features.add("cuda-device")
config.substitutions.append(("%ptxas", "/usr/local/cuda/bin/ptxas"))
# The CUDA launcher and examples/cuda are built where the CUDA toolkit is.
if os.path.exists(os.path.join(config.seqc_obj_root, "lib", "libseqc_cuda.so")):
    config.available_features.add("cuda-launcher")
