import os
import subprocess
import sys

from workshop_helpers.quiet import filter_noise, quiet_stderr

START_UP = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795428930.893039   10861 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1795428930.894660 10861 cudart_stub.cc:31] Could not find cuda drivers on your machine.
E0000 00:00:1795428981.642517 11919 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.
"""


def test_start_up_information_goes_and_errors_stay():
    assert filter_noise(START_UP) == ""
    error = "E0000 00:00:1795428981.642517   11919 saver.cc:12] Could not open checkpoint\n"
    warning = "W0000 00:00:1795428981.642517   11919 x.cc:3] Out of memory, retrying\n"
    assert (
        filter_noise(START_UP + error + warning + "Traceback (most recent call last):\n")
        == error + warning + "Traceback (most recent call last):\n"
    )
    # Without the "no driver" line, CUDA failing to start is news and is kept.
    cuinit = START_UP.splitlines(keepends=True)[3]
    assert filter_noise(cuinit) == cuinit


def test_quiet_stderr_filters_what_c_code_writes_to_descriptor_2(capfd):
    with quiet_stderr():
        os.write(2, b"I0000 00:00:1.5 1 port.cc:1] chatter\n")
        os.write(2, b"E0000 00:00:1.5 1 disk.cc:9] disk full\n")
    assert capfd.readouterr().err == "E0000 00:00:1.5 1 disk.cc:9] disk full\n"


def test_importing_the_package_prints_nothing():
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", "import workshop_helpers"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_filter_stderr_drops_noise_and_passes_every_other_line(tmp_path):
    import os

    from workshop_helpers.quiet import filter_stderr

    target = tmp_path / "stderr.txt"
    with target.open("wb") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            stop = filter_stderr(2)
            os.write(
                2,
                b"E0000 00:00:1796171995.165859   26876 util.cc:131] oneDNN supports "
                b"DT_INT32 only on platforms with AVX-512. Falling back\n",
            )
            os.write(2, b"a real error\nand a line without its end")
            stop()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    assert target.read_text() == "a real error\nand a line without its end"
