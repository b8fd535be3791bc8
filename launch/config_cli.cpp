#include "launch/config_cli.h"

namespace arena {

ConfigOptions::ConfigOptions(CLI::App* app) {
  app->add_option("-c,--config", config_file_, "TOML config (sections model, lora, data, batch, optim, train)")
      ->check(CLI::ExistingFile);
  TrainConfig defaults;
  for (const auto& f : config_fields(defaults)) {
    std::string names = "--" + f.key;
    for (const auto& a : f.aliases) names += "," + a;
    values_.emplace_back();
    auto* opt = app->add_option(names, values_.back(), f.help);
    opt->type_name(f.type == "list" || f.type == "numbers" ? "LIST" : f.type == "bool" ? "BOOL" : f.type == "int" ? "INT"
                   : f.type == "float" ? "FLOAT" : "TEXT");
    opt->group(f.key.substr(0, f.key.find('.')) + " settings");
    // Given twice, the later one wins, as in the TOML-then-command-line order: launch scripts
    // append a user's overrides after their own (cluster/slurm_job.sh: EXTRA_ARGS and "$@").
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    if (f.type == "bool") {
      // A bare --flag means true. CLI11 would hand a value-less option its default string, so the
      // default is shown through the type name instead ("BOOL=false", as for the other types).
      opt->expected(0, 1);
      opt->type_name("BOOL=" + f.get());
    } else {
      opt->default_str(f.get());
    }
    options_.push_back(opt);
  }
}

TrainConfig ConfigOptions::resolve(const std::string& base_toml, const std::string& base_source, bool checked) const {
  TrainConfig c;
  if (!base_toml.empty()) load_toml_text(c, base_toml, base_source);
  if (!config_file_.empty()) load_toml_file(c, config_file_);
  auto fields = config_fields(c);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (options_[i]->count() == 0) continue;
    const auto& given = options_[i]->results();  // a bare boolean --flag carries no value: true
    fields[i].set(fields[i].type == "bool" && (given.empty() || given.back().empty()) ? "true" : values_[i]);
  }
  if (checked) validate(c);
  return c;
}

}  // namespace arena
