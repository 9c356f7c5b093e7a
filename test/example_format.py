"""lit test format: every .seq model in examples/ is one test (see
test/examples/lit.local.cfg for what is checked)."""
import os
import subprocess
import tempfile

import lit.formats
import lit.Test


class ExampleFormat(lit.formats.TestFormat):
    def __init__(self, examples_dir, tools_dir, ptxas=None, cuda_device=False):
        self.examples_dir = examples_dir
        self.tools_dir = tools_dir
        self.ptxas = ptxas
        self.cuda_device = cuda_device

    def getTestsInDirectory(self, testSuite, path_in_suite, litConfig, localConfig):
        for name in sorted(os.listdir(self.examples_dir)):
            if name.endswith(".seq"):
                yield lit.Test.Test(testSuite, path_in_suite + (name,), localConfig,
                                    file_path=os.path.join(self.examples_dir, name))

    def execute(self, test, litConfig):
        path = test.getFilePath()
        seqc = os.path.join(self.tools_dir, "seqc")
        opt = os.path.join(self.tools_dir, "seq-opt")
        log = []

        env = dict(os.environ)
        env.update(test.config.environment)

        def run(args, stdin=None):
            p = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=300,
                               env=env)
            log.append("$ " + " ".join(args) + f"\n(exit {p.returncode})\n{p.stderr}")
            return p

        p = run([seqc, path, "--emit", "ast"])
        if p.returncode != 0:
            return lit.Test.FAIL, "\n".join(log)
        p = run([seqc, path, "--emit", "rec"])
        if p.returncode != 0 or "rec.model @" not in p.stdout or "rec.recurrence" not in p.stdout:
            return lit.Test.FAIL, "\n".join(log) + "\nno rec.model / rec.recurrence in --emit rec"
        first = run([opt], p.stdout)
        if first.returncode != 0:
            return lit.Test.FAIL, "\n".join(log)
        second = run([opt], first.stdout)
        if second.returncode != 0 or second.stdout != first.stdout:
            return lit.Test.FAIL, "\n".join(log) + "\nseq-opt round trip is not a fixed point"
        generic = run([opt, "--mlir-print-op-generic"], first.stdout)
        back = run([opt], generic.stdout)
        if back.returncode != 0 or back.stdout != first.stdout:
            return lit.Test.FAIL, "\n".join(log) + "\ngeneric-form round trip differs"
        models = [l.split()[1].split("(")[0] for l in run([seqc, path, "--emit", "ast"]).stdout.splitlines()
                  if l.startswith("model ")]
        for m in models:
            p = run([seqc, "run", path, "--model", m, "--B", "2", "--T", "32"])
            if p.returncode != 0 or "nan" in p.stdout or "inf" in p.stdout.split("interpreter)")[-1]:
                return lit.Test.FAIL, "\n".join(log) + "\n" + p.stdout + "\ninterpreter failed or not finite"
        # The compiled kernel against the interpreter, with the ABI checks of
        # `seqc check`, and its gradients (`seqc check --grad`): every model
        # in the sequential form and in the form --form auto picks, at a
        # length where errors would accumulate.
        # --form scan, newton and chunk too where the analysis allows them
        # (auto may stream a scannable state instead, and takes Newton only
        # for long sequences); a refusal must say why.
        refusal = {"scan": "cannot take the scan form", "newton": "cannot take the Newton form",
                   "chunk": "cannot take the chunked form"}
        for m in models:
            for form in ("sequential", "auto", "scan", "newton", "chunk"):
                p = run([seqc, "check", path, "--model", m, "--form", form,
                         "--B", "2", "--T", "1000"])
                log.append(p.stdout)
                if form in refusal and p.returncode == 1 and refusal[form] in p.stderr:
                    continue
                if p.returncode != 0 or not p.stdout.rstrip().endswith("PASS"):
                    return lit.Test.FAIL, "\n".join(log) + "\n" + p.stderr + \
                        "\nseqc check --form %s failed for %s" % (form, m)
                # The backward of the same form, against finite differences
                # of the interpreter, with the tape and without. Attention has
                # no gradient rule yet: such a model must say so.
                p = run([seqc, "check", path, "--model", m, "--form", form, "--grad",
                         "--B", "2", "--T", "1000"])
                log.append(p.stdout)
                if p.returncode == 1 and "attention has no gradient rule yet" in p.stderr:
                    continue
                if p.returncode != 0 or not p.stdout.rstrip().endswith("PASS"):
                    return lit.Test.FAIL, "\n".join(log) + "\n" + p.stderr + \
                        "\nseqc check --grad --form %s failed for %s" % (form, m)
        # The GPU target: PTX for the oldest and the newest architecture,
        # which ptxas must accept, in the form auto picks and in the Newton
        # form where it applies; where a GPU is, the kernels themselves.
        if self.ptxas:
            with tempfile.TemporaryDirectory() as tmp:
                for arch, form in (("sm_80", "auto"), ("sm_90", "auto"), ("sm_90", "newton"),
                                   ("sm_90", "chunk")):
                    ptx = os.path.join(tmp, arch + ".ptx")
                    p = run([seqc, path, "--target", "nvptx", "--gpu-arch", arch, "--form", form,
                             "-o", ptx])
                    if form in refusal and p.returncode == 1 and refusal[form] in p.stderr:
                        continue
                    if p.returncode != 0:
                        return lit.Test.FAIL, "\n".join(log) + "\n--target nvptx failed"
                    p = run([self.ptxas, "-arch=" + arch, ptx, "-o", os.path.join(tmp, "k.cubin")])
                    if p.returncode != 0:
                        return lit.Test.FAIL, "\n".join(log) + "\nptxas rejected the PTX"
        if self.cuda_device:
            for m in models:
                for form in ("sequential", "auto", "newton", "chunk"):
                    p = run([seqc, "check", path, "--model", m, "--form", form, "--target",
                             "nvptx", "--B", "2", "--T", "1000"])
                    log.append(p.stdout)
                    if form in refusal and p.returncode == 1 and refusal[form] in p.stderr:
                        continue
                    if p.returncode != 0 or not p.stdout.rstrip().endswith("PASS"):
                        return lit.Test.FAIL, "\n".join(log) + "\n" + p.stderr + \
                            "\nseqc check --target nvptx --form %s failed for %s" % (form, m)
        return lit.Test.PASS, ""


