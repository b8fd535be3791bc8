#include "launch/tb_scalars.h"

namespace arena {

namespace {

std::string group_of(const nlohmann::json& r) {
  const auto kind = r.value("kind", std::string("record"));
  const auto split = r.value("split", std::string());
  if (kind == "train" || kind == "skip") return "train";
  if (kind == "start") return "run";
  if (kind == "eval" && !split.empty()) return split;
  if (kind == "baselines" && !split.empty()) return split + "/baselines";
  return kind;
}

void flatten(const std::string& tag, const nlohmann::json& v, TbScalars& out) {
  if (v.is_number()) {
    out.values.emplace_back(tag, v.get<double>());
  } else if (v.is_object()) {
    for (const auto& [key, item] : v.items()) flatten(tag + "/" + key, item, out);
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) flatten(tag + "/" + std::to_string(i), v[i], out);
  }
}

}  // namespace

TbScalars tb_scalars(const nlohmann::json& record, int64_t previous_step) {
  TbScalars out;
  out.step = previous_step;
  for (const char* key : {"step", "resumed_at", "steps"}) {
    if (record.contains(key) && record[key].is_number_integer()) {
      out.step = record[key].get<int64_t>();
      break;
    }
  }
  const auto group = group_of(record);
  for (const auto& [key, item] : record.items())
    if (key != "step") flatten(group + "/" + key, item, out);
  return out;
}

}  // namespace arena
