// Implementation of the shared test helpers (see peer.h).
#include "support/peer.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <sys/wait.h>

namespace lowbit::testing {

std::filesystem::path source_dir() { return LOWBIT_SOURCE_DIR; }
std::filesystem::path cli_path() { return LOWBIT_CLI_PATH; }

std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "anon";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() / "lowbit-tests" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string peer_python() {
  if (const char* env = std::getenv("LOWBIT_PEER_PYTHON"); env && *env) return env;
  return LOWBIT_PEER_PYTHON_DEFAULT;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

CommandResult rerun_self(const std::string& env, const std::string& gtest_filter) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  return run_command(env + " '" + self + "' --gtest_filter=" + gtest_filter);
}

CommandResult run_command(const std::string& command_line) {
  CommandResult r;
  FILE* p = popen((command_line + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command_line);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string torch_python() {
  if (const char* env = std::getenv("LOWBIT_TORCH_PYTHON"); env && *env) return env;
  // The venv adds transformers on top of Debian's torch (system site packages), so it
  // serves the torch.ao peers as well; bare Debian Python is the fallback.
  const auto venv = source_dir() / ".venv-torch/bin/python";
  if (std::filesystem::exists(venv)) return venv.string();
  return "/usr/bin/python3";
}

std::string run_peer(const std::string& script, const std::vector<std::string>& args) {
  return run_peer_with(peer_python(), script, args);
}

std::string run_peer_with(const std::string& py, const std::string& script, const std::vector<std::string>& args) {
  if (!std::filesystem::exists(py))
    throw std::runtime_error("peer python not found at " + py +
                             " (run scripts/test-all.sh, or set LOWBIT_PEER_PYTHON)");
  std::string cmd = shell_quote(py) + " " + shell_quote((source_dir() / "tests/peers" / script).string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  CommandResult r = run_command(cmd);
  if (r.exit_code != 0)
    throw std::runtime_error("peer script failed (exit " + std::to_string(r.exit_code) + "): " + cmd +
                             "\n" + r.output);
  return r.output;
}

bool files_equal(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ea, eb;
  const auto sa = std::filesystem::file_size(a, ea), sb = std::filesystem::file_size(b, eb);
  if (ea || eb || sa != sb) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), std::streamsize(ba.size()));
    fb.read(bb.data(), std::streamsize(bb.size()));
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
  }
  return true;
}

}  // namespace lowbit::testing
