#include "launch/report_sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "launch/report_chart.h"
#include "launch/report_stats.h"

namespace arena {
namespace {

const char* const kClassNames[] = {"model_a", "model_b", "tie"};
const char* const kBlue = "'#4a7ab5'";

// Renders `c` into `dir` and adds its figure to `s`, or a note saying why it is missing.
void draw(Section& s, const Chart& c, const std::string& dir, const std::string& caption) {
  const auto problem = render_chart(c, dir);
  if (!problem.empty()) s.notes.push_back(fmt::format("{}: not drawn: {}", c.title, problem));
  s.figures.push_back({problem.empty() ? c.name + ".png" : "", c.title, caption});
}

std::string percent(double share) { return fmt::format("{:.1f} %", 100 * share); }

// gnuplot's `set xtics (...)` for category names at 0, 1, ...
std::string category_tics(const char* axis, const std::vector<std::string>& names) {
  std::string s = fmt::format("set {}tics (", axis);
  for (size_t i = 0; i < names.size(); ++i) s += fmt::format("{}{} {}", i ? ", " : "", quoted(names[i]), i);
  return s + ")";
}

// Clustered bars: one series per group, categories at 0, 1, ...; counts[group][category].
void add_clusters(Chart& c, const std::vector<std::string>& groups, const std::vector<std::string>& categories,
                  const std::vector<std::vector<double>>& values) {
  const double width = 0.8 / static_cast<double>(groups.size());
  c.setup.push_back(fmt::format("set boxwidth {} absolute", width));
  c.setup.push_back(category_tics("x", categories));
  c.setup.push_back(fmt::format("set xrange [-0.6:{}]", static_cast<double>(categories.size()) - 0.4));
  c.setup.push_back("set yrange [0:*]");
  for (size_t g = 0; g < groups.size(); ++g) {
    Series se{groups[g], {}, "1:2", fmt::format("boxes lc {}", g + 1)};
    for (size_t k = 0; k < categories.size(); ++k) {
      const double x = static_cast<double>(k) + (static_cast<double>(g) - (groups.size() - 1) / 2.0) * width;
      se.rows.push_back({cell(x), cell(values[g][k])});
    }
    c.series.push_back(std::move(se));
  }
}

// A value of every train record of a run, by step.
template <typename F>
Series train_series(const RunRecord& run, size_t color, F&& value) {
  Series se{run.name, {}, "1:2", fmt::format("lines lw 1.5 lc {}", color)};
  for (const auto& p : run.train) se.rows.push_back({cell(static_cast<double>(p.step)), cell(value(p))});
  return se;
}

// The run's eval points of one split ("val", "test") as a point series, or none.
template <typename F>
void add_eval_points(Chart& c, const RunRecord& run, size_t color, const char* split, F&& value) {
  Series se{fmt::format("{} {}", run.name, split), {}, "1:2",
            fmt::format("points pt {} ps {} lc {}", std::string(split) == "test" ? 5 : 7,
                        std::string(split) == "test" ? 1.6 : 1.1, color)};
  for (const auto& e : run.evals)
    if (e.split == split) se.rows.push_back({cell(static_cast<double>(e.step)), cell(value(e))});
  if (!se.rows.empty()) c.series.push_back(std::move(se));
}

}  // namespace

Section training_section(const std::vector<RunRecord>& runs, const std::string& dir) {
  Section s{"training", "Training", {}, {}, {}, {}};
  Table t{{"run", "steps", "val accuracy", "val log loss", "test accuracy", "test log loss", "train seconds"}, {}};
  bool any = false;
  for (const auto& run : runs) {
    any = any || !run.train.empty();
    for (const auto& n : run.notes)
      if (n.find("metrics.jsonl") != std::string::npos) s.notes.push_back(n);
    std::vector<std::string> row{run.name, run.train.empty() ? "-" : std::to_string(run.train.back().step)};
    for (const char* split : {"val", "test"}) {
      const EvalPoint* last = nullptr;
      for (const auto& e : run.evals)
        if (e.split == split) last = &e;
      row.push_back(last ? fmt::format("{:.4f}", last->accuracy) : "-");
      row.push_back(last ? fmt::format("{:.4f}", last->log_loss) : "-");
    }
    row.push_back(run.summary.contains("train_seconds") && run.summary["train_seconds"].is_number()
                      ? fmt::format("{:.1f}", run.summary["train_seconds"].get<double>())
                      : "-");
    t.rows.push_back(std::move(row));
  }
  s.tables.push_back(std::move(t));
  if (!any) {
    s.notes.push_back("no run has training records: no training curves");
    return s;
  }
  s.text.push_back("Every optimizer step's record in metrics.jsonl (loss and accuracy of the step's batch); the "
                   "val and test evaluations are the points. Runs are overlaid in one colour each.");
  struct Curve {
    const char *name, *title, *ylabel, *caption;
    double (*value)(const TrainPoint&);
    double (*eval)(const EvalPoint&);  // null: no eval points
  };
  const Curve curves[] = {
      {"loss", "Loss", "cross-entropy", "Training loss per step (mean over the step's rows); points: val and test "
       "log loss.", [](const TrainPoint& p) { return p.loss; }, [](const EvalPoint& e) { return e.log_loss; }},
      {"accuracy", "Accuracy", "accuracy", "Training accuracy per step (the step's batch); points: val and test "
       "accuracy.", [](const TrainPoint& p) { return p.accuracy; }, [](const EvalPoint& e) { return e.accuracy; }},
      {"lr", "Learning rate", "learning rate", "Peak-scaled learning rate of the adapters at each step (warmup, "
       "then decay).", [](const TrainPoint& p) { return p.lr; }, nullptr},
      {"grad_norm", "Gradient norm", "L2 norm", "Global gradient norm before clipping (optim.max_grad_norm).",
       [](const TrainPoint& p) { return p.grad_norm; }, nullptr},
      {"tokens_per_s", "Tokens per second", "tokens/s", "Training throughput over each logging window (all "
       "ranks); the first steps include warm-up.", [](const TrainPoint& p) { return p.tokens_per_s; }, nullptr},
  };
  for (const auto& cv : curves) {
    Chart c{cv.name, cv.title, "optimizer step", cv.ylabel, {}, {}, 720, 420};
    if (std::string(cv.name) == "lr") c.setup.push_back("set format y '%.1e'");
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].train.empty()) continue;
      c.series.push_back(train_series(runs[i], i + 1, cv.value));
      if (cv.eval) {
        add_eval_points(c, runs[i], i + 1, "val", cv.eval);
        add_eval_points(c, runs[i], i + 1, "test", cv.eval);
      }
    }
    draw(s, c, dir, cv.caption);
  }
  return s;
}

Section data_section(const DataView& data, const std::string& run_names, const std::string& key,
                     const std::string& dir) {
  Section s{key, fmt::format("Data: {}", run_names), {}, data.notes, {}, {}};
  const auto& rows = data.rows;
  if (rows.empty()) {
    s.notes.push_back(fmt::format("{}: no usable rows: no data charts", data.path));
    return s;
  }
  // Token lengths before truncation, with the budget.
  std::vector<int64_t> lengths;
  for (const auto& r : rows) lengths.push_back(r.tokens);
  std::sort(lengths.begin(), lengths.end());
  const auto pct = [&](double q) { return lengths[static_cast<size_t>(q * static_cast<double>(lengths.size() - 1) + 0.5)]; };
  const int64_t over = static_cast<int64_t>(lengths.end() - std::upper_bound(lengths.begin(), lengths.end(), data.max_len));
  const double truncated = static_cast<double>(over) / static_cast<double>(lengths.size());
  s.text.push_back(fmt::format("{}: {} rows as the run reads them (labels: {}), tokenized again with the run's "
                               "tokenizer and template. Tokens per pair before truncation: p50 {}, p90 {}, p99 {}, "
                               "max {}; {} ({} rows) exceed the budget data.max_len = {} and are cut head+tail.",
                               data.path, rows.size(), data.labels, pct(0.5), pct(0.9), pct(0.99), lengths.back(),
                               percent(truncated), over, data.max_len));
  {
    const double hi = std::max(1.25 * static_cast<double>(data.max_len), static_cast<double>(pct(0.99)));
    const int64_t width = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(hi / 40)));
    const int64_t bins = static_cast<int64_t>(std::ceil(hi / static_cast<double>(width)));
    std::vector<int64_t> count(static_cast<size_t>(bins), 0);
    for (const auto l : lengths) ++count[static_cast<size_t>(std::min(bins - 1, l / width))];
    Chart c{key + "_lengths", fmt::format("Token lengths before truncation: {} over the budget", percent(truncated)),
            "tokens per pair (template included)", "pairs", {}, {}, 720, 420};
    c.setup = {fmt::format("set boxwidth {} absolute", 0.9 * static_cast<double>(width)), "set key inside right top",
               fmt::format("set arrow from {0}, graph 0 to {0}, graph 1 nohead lw 2 lc rgb '#d62728'", data.max_len),
               fmt::format("set label {} at {}, graph 0.92 offset 0.6, 0 tc rgb '#d62728'",
                           quoted(fmt::format("max_len {}: {} truncated", data.max_len, percent(truncated))),
                           data.max_len),
               "set xrange [0:*]", "set yrange [0:*]"};
    Series se{"pairs", {}, "1:2", fmt::format("boxes lc rgb {}", kBlue)};
    for (int64_t b = 0; b < bins; ++b)
      se.rows.push_back({cell((static_cast<double>(b) + 0.5) * static_cast<double>(width)), cell(static_cast<double>(count[b]))});
    c.series.push_back(std::move(se));
    draw(s, c, dir, fmt::format("Pairs by length before truncation in bins of {} tokens (longer ones in the last "
                                "bin); the red line is the budget: {} of the pairs are longer and truncated.",
                                width, percent(truncated)));
  }
  // Label balance by split.
  {
    std::set<int> labels;
    bool split_known = false;
    for (const auto& r : rows) labels.insert(r.label), split_known = split_known || r.split >= 0;
    std::vector<std::string> groups = split_known ? std::vector<std::string>{"train", "val", "test"}
                                                  : std::vector<std::string>{"all rows"};
    std::vector<std::string> categories;
    std::vector<int> label_of;
    for (const int l : labels) {
      if (l < 0) continue;
      categories.push_back(kClassNames[l]);
      label_of.push_back(l);
    }
    if (labels.count(-1)) categories.push_back("none"), label_of.push_back(-1);
    std::vector<std::vector<double>> counts(groups.size(), std::vector<double>(categories.size(), 0));
    for (const auto& r : rows) {
      const int g = split_known ? r.split : 0;
      if (g < 0) continue;
      const auto k = std::find(label_of.begin(), label_of.end(), r.label) - label_of.begin();
      ++counts[static_cast<size_t>(g)][static_cast<size_t>(k)];
    }
    std::string shares;
    for (size_t k = 0; k < categories.size(); ++k) {
      double n = 0;
      for (const auto& g : counts) n += g[k];
      shares += fmt::format("{}{} {}", k ? ", " : "", categories[k], percent(n / static_cast<double>(rows.size())));
    }
    Chart c{key + "_labels", "Label balance", "label", "rows", {"set key inside right top"}, {}, 720, 420};
    add_clusters(c, groups, categories, counts);
    draw(s, c, dir, fmt::format("Rows per label{}: {}.", split_known ? " in each split of the run (split.json)" : "",
                                shares));
  }
  // Arena data: win rate per model.
  const bool named = std::any_of(rows.begin(), rows.end(), [](const DataRow& r) { return !r.model_a.empty(); });
  if (named) {
    auto wins = win_rates(rows, 1);
    std::stable_sort(wins.begin(), wins.end(), [](const ModelWins& a, const ModelWins& b) { return a.battles > b.battles; });
    const size_t shown = std::min<size_t>(wins.size(), 25);
    wins.resize(shown);
    std::stable_sort(wins.begin(), wins.end(), [](const ModelWins& a, const ModelWins& b) {
      return a.win_rate() > b.win_rate();
    });
    Chart c{key + "_win_rate", "Win rate per model", "", "win rate (ties count half)", {}, {}, 720, 480};
    c.setup = {"set xtics rotate by 50 right", "set yrange [0:1]", "set boxwidth 0.7 relative", "unset key",
               "set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 2 lc rgb 'gray30'"};
    Series se{"", {}, "0:2:xtic(1)", fmt::format("boxes lc rgb {}", kBlue)};
    for (const auto& w : wins) se.rows.push_back({text_cell(fmt::format("{} ({})", w.model, w.battles)), cell(w.win_rate())});
    c.series.push_back(std::move(se));
    draw(s, c, dir, fmt::format("The {} models in the most battles (of {}; battles in brackets), by (wins + ties / "
                                "2) / battles over every labelled row of the file.", shown,
                                win_rates(rows, 1).size()));
  } else {
    s.notes.push_back(fmt::format("{}: no model names (model_a/model_b columns): no win rate per model", data.path));
  }
  // Winner against the answers' length difference.
  {
    std::vector<int64_t> diffs;
    for (const auto& r : rows)
      if (r.label >= 0) diffs.push_back(std::abs(r.tokens_a - r.tokens_b));
    if (diffs.empty()) {
      s.notes.push_back(fmt::format("{}: no labelled rows: no winner against length difference", data.path));
      return s;
    }
    std::sort(diffs.begin(), diffs.end());
    const int64_t p90 = diffs[static_cast<size_t>(0.9 * static_cast<double>(diffs.size() - 1))];
    const int64_t width = std::max<int64_t>(10, (p90 / 5 + 9) / 10 * 10), limit = 5 * width;
    const auto bins = winner_by_length_diff(rows, width, limit);
    std::vector<std::string> categories, groups;
    std::vector<std::vector<double>> counts;
    int64_t longer_wins = 0, decided = 0;
    for (const auto& r : rows) {
      if ((r.label != 0 && r.label != 1) || r.tokens_a == r.tokens_b) continue;
      ++decided;
      longer_wins += (r.tokens_a > r.tokens_b) == (r.label == 0);
    }
    for (size_t b = 0; b < bins.size(); ++b)
      categories.push_back(b == 0 ? fmt::format("<={}", bins[b].hi)
                                  : b + 1 == bins.size() ? fmt::format(">={}", bins[b].lo)
                                                         : fmt::format("{}..{}", bins[b].lo, bins[b].hi));
    for (int l = 0; l < 3; ++l) {
      std::vector<double> v;
      double total = 0;
      for (const auto& b : bins) v.push_back(static_cast<double>(b.winners[l])), total += b.winners[l];
      if (total == 0) continue;
      groups.push_back(fmt::format("{} won", kClassNames[l]));
      counts.push_back(std::move(v));
    }
    Chart c{key + "_length_diff", "Winner against length difference", "tokens of answer A - tokens of answer B",
            "rows", {"set xtics rotate by 30 right", "set key inside left top"}, {}, 720, 440};
    add_clusters(c, groups, categories, counts);
    draw(s, c, dir, fmt::format("Labelled rows by the answers' length difference (all turns, before truncation) "
                                "and who won. Where the lengths differ, the longer answer won {} of {} A/B rows "
                                "({}).", longer_wins, decided,
                                percent(decided ? static_cast<double>(longer_wins) / static_cast<double>(decided) : 0)));
  }
  return s;
}

Section test_section(const RunRecord& run, const std::string& key, const std::string& dir) {
  Section s{key, fmt::format("Model on the test split: {}", run.name), {}, {}, {}, {}};
  for (const auto& n : run.notes)
    if (n.find("test_predictions.csv") != std::string::npos) s.notes.push_back(n);
  const auto& rows = run.test;
  if (rows.empty()) {
    if (s.notes.empty()) s.notes.push_back(fmt::format("{}: no test rows in test_predictions.csv", run.dir));
    return s;
  }
  const size_t classes = rows.front().probs.size();
  std::vector<std::string> names(kClassNames, kClassNames + std::min<size_t>(classes, 3));
  const auto rel = reliability(rows, 10);
  int64_t right = 0, truncated = 0;
  double loss = 0;
  for (const auto& p : rows) {
    truncated += p.truncated == 1;
    if (p.label < 0) continue;
    right += predicted_class(p.probs) == p.label;
    loss += -std::log(std::clamp(p.probs[static_cast<size_t>(p.label)], 1e-15, 1.0 - 1e-15));
  }
  const double n = static_cast<double>(std::max<int64_t>(rel.n, 1));
  s.text.push_back(fmt::format("{}/test_predictions.csv: {} rows ({} labelled), accuracy {:.4f}, log loss {:.4f}, "
                               "expected calibration error {:.4f}; {} rows were truncated to data.max_len.",
                               run.dir, rows.size(), rel.n, static_cast<double>(right) / n, loss / n, rel.ece,
                               truncated));
  {  // confusion matrix
    const auto m = confusion(rows);
    Chart c{key + "_confusion", "Confusion matrix", "predicted", "true label", {}, {}, 560, 460};
    const double last = static_cast<double>(classes) - 0.5;
    c.setup = {category_tics("x", names), category_tics("y", names), fmt::format("set xrange [-0.5:{}]", last),
               fmt::format("set yrange [{}:-0.5]", last), "set palette defined (0 'white', 1 '#3060c0')",
               "set cbrange [0:*]", "set cblabel 'rows'", "unset key", "unset grid", "set size ratio -1"};
    Series img{"", {}, "1:2:3", "image"}, labels{"", {}, "1:2:3", "labels font 'sans,12'"};
    for (size_t t = 0; t < classes; ++t)
      for (size_t p = 0; p < classes; ++p) {
        img.rows.push_back({cell(static_cast<double>(p)), cell(static_cast<double>(t)), cell(static_cast<double>(m[t][p]))});
        labels.rows.push_back({cell(static_cast<double>(p)), cell(static_cast<double>(t)), text_cell(std::to_string(m[t][p]))});
      }
    c.series = {img, labels};
    draw(s, c, dir, "Test rows by true label (rows) and the model's most probable class (columns).");
  }
  {  // reliability diagram
    const double floor = 1.0 / static_cast<double>(classes);
    Chart c{key + "_reliability", fmt::format("Reliability diagram: ECE {:.4f}", rel.ece), "confidence (top-class probability)",
            "accuracy", {}, {}, 720, 420};
    c.setup = {fmt::format("set xrange [{}:1]", floor), "set yrange [0:1.08]", "set key inside left top",
               fmt::format("set boxwidth {} absolute", 0.9 * (1 - floor) / static_cast<double>(rel.bins.size()))};
    Series bars{"accuracy in bin", {}, "1:2", fmt::format("boxes lc rgb {}", kBlue)};
    Series conf{"mean confidence in bin", {}, "1:2", "points pt 7 ps 1.2 lc rgb '#d62728'"};
    Series counts{"", {}, "1:2:3", "labels font 'sans,8'"};
    for (const auto& b : rel.bins) {
      if (b.n == 0) continue;
      const double mid = (b.lo + b.hi) / 2;
      bars.rows.push_back({cell(mid), cell(b.accuracy)});
      conf.rows.push_back({cell(mid), cell(b.confidence)});
      counts.rows.push_back({cell(mid), cell(std::min(1.04, b.accuracy + 0.04)), text_cell(fmt::format("n {}", b.n))});
    }
    Series diag{"perfect calibration", {{cell(floor), cell(floor)}, {cell(1.0), cell(1.0)}}, "1:2", "lines dt 2 lc rgb 'gray30'"};
    c.series = {bars, conf, diag, counts};
    draw(s, c, dir, fmt::format("Test rows in 10 bins of the top class's probability: the bar is how often that "
                                "class was right, the dot the mean probability. ECE = sum over bins of (rows in bin "
                                "/ {}) x |accuracy - confidence| = {:.4f}.", rel.n, rel.ece));
  }
  {  // accuracy by length bucket
    const auto buckets = accuracy_by_length(rows, 5);
    if (buckets.empty()) {
      s.notes.push_back(fmt::format("{}/test_predictions.csv: no token lengths: no accuracy by length", run.dir));
    } else {
      Chart c{key + "_by_length", "Accuracy by length", "tokens per pair before truncation (rows)", "accuracy",
              {"set yrange [0:1]", "set boxwidth 0.7 relative", "unset key",
               fmt::format("set arrow from graph 0, first {0} to graph 1, first {0} nohead dt 2 lc rgb 'gray30'",
                           static_cast<double>(right) / n)}, {}, 720, 420};
      Series se{"", {}, "0:2:xtic(1)", fmt::format("boxes lc rgb {}", kBlue)};
      for (const auto& b : buckets)
        se.rows.push_back({text_cell(fmt::format("{}-{} ({})", b.lo, b.hi, b.n)), cell(b.accuracy)});
      c.series.push_back(std::move(se));
      const std::string budget = run.has_config ? fmt::format(" (the budget data.max_len is {})", run.config.max_len) : "";
      draw(s, c, dir, fmt::format("Test accuracy in {} buckets of about equal size by length before truncation{}; "
                                  "the dashed line is the overall accuracy.", buckets.size(), budget));
    }
  }
  {  // swap consistency
    const auto sw = swap_stats(rows);
    if (sw.n == 0) {
      s.notes.push_back(fmt::format("{}: the test split was not scored with A and B exchanged (runs with train.swap "
                                    "are; or: arena eval --swap-average): no swap consistency", run.name));
    } else {
      Chart c{key + "_swap", fmt::format("Swap consistency {:.3f}", sw.consistency), "", "share of test rows",
              {"set yrange [0:1]", "set boxwidth 0.6 relative", "unset key"}, {}, 720, 420};
      Series se{"", {}, "0:2:xtic(1)", fmt::format("boxes lc rgb {}", kBlue)};
      se.rows = {{text_cell("same winner A-B and B-A"), cell(sw.consistency)},
                 {text_cell("accuracy A-B order"), cell(sw.accuracy)},
                 {text_cell("accuracy B-A order"), cell(sw.accuracy_swapped)},
                 {text_cell("accuracy averaged"), cell(sw.accuracy_averaged)}};
      c.series.push_back(std::move(se));
      draw(s, c, dir, fmt::format("Each of the {} test pairs scored as given and with A and B exchanged (mapped "
                                  "back): the share with the same predicted winner both ways, and the accuracy of "
                                  "each order and of their average.", sw.n));
    }
  }
  return s;
}

}  // namespace arena
