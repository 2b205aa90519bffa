# lit configuration for the plugin's IR tests (the same RUN lines run-tests.sh runs):
#   python3 /usr/lib/llvm-19/build/utils/lit/lit.py -v llvm-pass/test [--param plugin=PATH]
import os
import tempfile
import lit.formats

config.name = "snapshot-pass"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".ll", ".c", ".cpp"]
config.test_source_root = os.path.dirname(__file__)
# Scratch files outside the source tree.
config.test_exec_root = os.path.join(tempfile.gettempdir(), "snapshot-pass-lit")
config.excludes = ["e2e", "run-tests.sh", "lit.cfg.py"]
plugin = lit_config.params.get(
    "plugin", os.path.join(config.test_source_root, "..", "build", "libsnapshot-pass.so"))
llvm_bin = lit_config.params.get("llvm_bin", "/usr/lib/llvm-19/bin")
config.substitutions.append(("%plugin", os.path.abspath(plugin)))
config.environment["PATH"] = os.pathsep.join([llvm_bin, os.environ.get("PATH", "")])
