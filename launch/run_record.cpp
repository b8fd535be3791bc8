#include "launch/run_record.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace arena {
namespace fs = std::filesystem;

void write_split_file(const std::string& out, const RunData& data) {
  const auto path = fs::path(out) / "split.json";
  const auto tmp = fs::path(out) / "split.json.tmp";
  const nlohmann::json j = {{"train", data.train.row_ids}, {"val", data.val.row_ids}, {"test", data.test.row_ids}};
  {
    std::ofstream f(tmp);
    f << j.dump() << "\n";
    check(static_cast<bool>(f), "{}: cannot write", tmp.string());
  }
  fs::rename(tmp, path);
}

void write_test_predictions(const std::string& out, const TokenizedData& test, int64_t max_len,
                            const torch::Tensor& probs, const torch::Tensor& swapped_probs) {
  const int64_t labels = probs.size(1);
  const char* names[] = {"model_a", "model_b", "tie"};
  check(probs.size(0) == test.size() && labels <= 3, "test predictions: [{}, {}] probabilities for {} test rows",
        probs.size(0), labels, test.size());
  const bool swapped = swapped_probs.defined();
  check(!swapped || swapped_probs.sizes() == probs.sizes(), "test predictions: swapped probabilities [{}] vs [{}]",
        fmt::join(swapped_probs.sizes(), ","), fmt::join(probs.sizes(), ","));
  const auto p = probs.accessor<double, 2>();
  const auto sw = swapped ? swapped_probs.contiguous() : torch::Tensor();
  const double* sp = swapped ? sw.data_ptr<double>() : nullptr;
  const auto path = fs::path(out) / "test_predictions.csv";
  const auto tmp = fs::path(out) / "test_predictions.csv.tmp";
  {
    std::ofstream f(tmp);
    f << "row_id,label";
    for (int64_t k = 0; k < labels; ++k) f << ",p_" << names[k];
    f << ",tokens,truncated";
    for (int64_t k = 0; swapped && k < labels; ++k) f << ",swapped_p_" << names[k];
    f << "\n";
    for (int64_t i = 0; i < test.size(); ++i) {
      // Row ids are the file's ids: quote them as CSV does when they hold a comma or a quote.
      const auto& id = test.row_ids[i];
      if (id.find_first_of(",\"\n\r") == std::string::npos) {
        f << id;
      } else {
        f << '"';
        for (const char ch : id) f << (ch == '"' ? "\"\"" : std::string(1, ch));
        f << '"';
      }
      f << ',' << test.labels[i];
      for (int64_t k = 0; k < labels; ++k) f << fmt::format(",{:.9g}", p[i][k]);
      f << ',' << test.full_length[i] << ',' << (test.full_length[i] > max_len ? 1 : 0);
      for (int64_t k = 0; swapped && k < labels; ++k) f << fmt::format(",{:.9g}", sp[i * labels + k]);
      f << "\n";
    }
    check(static_cast<bool>(f), "{}: cannot write", tmp.string());
  }
  fs::rename(tmp, path);
}

BatchLog::BatchLog(const TrainConfig& c, const TokenizedData& train, int world, bool enabled)
    : c_(c), train_(train), world_(world) {
  if (!enabled) return;
  const auto path = (fs::path(c.out) / "batches.jsonl").string();
  file_ = std::fopen(path.c_str(), "a");
  check(file_ != nullptr, "{}: cannot open for appending", path);
}

BatchLog::~BatchLog() {
  if (file_) std::fclose(file_);
}

void BatchLog::skip_in(int64_t epoch, const std::vector<int64_t>& skip) {
  skip_epoch_ = epoch;
  skip_ = skip;
  plans_.erase(epoch);
}

void BatchLog::record(int64_t step, int64_t epoch, int64_t cursor) {
  if (!file_) return;
  auto it = plans_.find(epoch);
  if (it == plans_.end()) {
    std::vector<BatchList> per_rank;
    for (int r = 0; r < world_; ++r)
      per_rank.push_back(plan_epoch(train_, c_, r, world_, epoch, epoch == skip_epoch_ ? skip_ : std::vector<int64_t>{}));
    it = plans_.emplace(epoch, std::move(per_rank)).first;
  }
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& plan : it->second) {
    nlohmann::json micro = nlohmann::json::array();
    for (int64_t k = 0; k < c_.accum_steps; ++k) {
      nlohmann::json ids = nlohmann::json::array();
      const int64_t n = train_.size();
      for (const int64_t row : swap_rows(plan.at(static_cast<size_t>(cursor + k)), train_, c_, epoch))
        ids.push_back(row < n ? train_.row_ids[row] : train_.row_ids[row - n] + "#swapped");
      micro.push_back(std::move(ids));
    }
    ranks.push_back(std::move(micro));
  }
  const auto line = nlohmann::json{{"step", step}, {"epoch", epoch}, {"ranks", std::move(ranks)}}.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace arena
