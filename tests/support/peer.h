// Test helpers shared by every test binary: where the sources are, scratch folders,
// and running a peer script (tests/peers/*.py) under the peer venv's Python so the
// expected values are computed by the peer library at test time, never typed in.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace lowbit::testing {

std::filesystem::path source_dir();
std::filesystem::path cli_path();

// A fresh, empty folder unique to the running test (removed and re-created).
std::filesystem::path scratch_dir();

// Python interpreter that has the peer packages: $LOWBIT_PEER_PYTHON or the venv the
// test command creates. Tests fail (not skip) when it is missing: CI installs it.
std::string peer_python();

// Python that has torch (torch.ao peers) and transformers: $LOWBIT_TORCH_PYTHON, else
// .venv-torch (Debian's python3-torch + tests/peers/requirements-torch.txt, made by
// scripts/install-deps.sh), else Debian's /usr/bin/python3 (torch only).
std::string torch_python();

// Runs `<python> tests/peers/<script> args...` (see run_peer).
std::string run_peer_with(const std::string& python, const std::string& script, const std::vector<std::string>& args);

// Runs `python tests/peers/<script> args...`, returns its stdout; throws with the
// combined output when it exits non-zero.
std::string run_peer(const std::string& script, const std::vector<std::string>& args);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a command line through /bin/sh and captures its output.
CommandResult run_command(const std::string& command_line);

// Runs this test binary again with `env` (e.g. "LOWBIT_KERNELS=ref") in its environment
// and only the tests matching `gtest_filter`: how a test checks a choice made once per
// process, such as kernel dispatch.
CommandResult rerun_self(const std::string& env, const std::string& gtest_filter);

// True when both files exist and hold the same bytes.
bool files_equal(const std::filesystem::path& a, const std::filesystem::path& b);

// Single-quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

}  // namespace lowbit::testing
