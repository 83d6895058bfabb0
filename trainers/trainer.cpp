// The training loop shared by every task: schedule, forward, backward, clipping, optimizer step,
// progress, metrics, periodic evaluation and checkpoints, and resuming from the last checkpoint.
#include "trainers/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/folder_lock.h"
#include "optim/clip_grad_norm.h"
#include "trainers/checkpoint.h"
#include "trainers/data_parallel.h"
#include "trainers/gguf_qat.h"
#include "trainers/lora_model.h"
#include "trainers/metrics_log.h"
#include "trainers/optimizer_factory.h"
#include "trainers/progress.h"
#include "trainers/quantization_setup.h"
#include "trainers/run_folder.h"
#include "trainers/task_factory.h"

namespace qforge::trainers {

namespace {

// Fields that may differ between a run and its resumption: how long and how loudly it runs.
config::RunConfig comparable(config::RunConfig c) {
  c.mutable_trainer()->clear_steps();
  c.mutable_trainer()->clear_epochs();
  c.mutable_trainer()->clear_log_every();
  c.mutable_trainer()->clear_eval_every();
  c.mutable_trainer()->clear_checkpoint_every();
  c.mutable_trainer()->clear_run_dir();
  c.clear_distributed();
  return c;
}

// Mean training loss over the current logging window; saved with checkpoints so the final report
// of a resumed run equals the uninterrupted one.
struct LossWindow {
  double sum = 0.0;
  int64_t count = 0;
  double mean() const { return count > 0 ? sum / static_cast<double>(count) : NAN; }
};

// trainer.skip_nonfinite gives up after this many non-finite steps in a row.
constexpr int64_t kMaxSkippedInARow = 10;

class TrainingRun {
 public:
  TrainingRun(const config::RunConfig& config, const TrainOptions& options);
  RunResult run();

 private:
  void open_run();
  void resume_or_start();
  void write_summary(int64_t step, double step_seconds);
  void save(int64_t step);
  void evaluate(int64_t step, RunResult& result);
  void inject_nonfinite_gradient(int64_t step);
  void skip_nonfinite_step(int64_t step, double loss, ProgressReporter& progress);
  void log(int64_t step, const std::string& kind, const std::map<std::string, double>& values) {
    if (metrics_) metrics_->write(step, kind, values);  // the root rank's only
  }

  config::RunConfig config_;
  TrainOptions options_;
  std::unique_ptr<Task> task_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  std::vector<autograd::Variable> params_;
  std::vector<std::string> param_names_;  // of params_, for the non-finite gradient message
  int64_t skipped_steps_ = 0, skipped_in_a_row_ = 0;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<DataParallel> parallel_;
  std::optional<io::FolderLock> lock_;  // held by the root rank, which writes the run folder
  int64_t total_steps_ = 0, start_step_ = 0;
  LossWindow window_, last_window_;
};

TrainingRun::TrainingRun(const config::RunConfig& config, const TrainOptions& options)
    : config_(config), options_(options), task_(make_task(config)) {
  // A LoRA run trains (and keeps optimizer state for) its adapters only; the base is frozen.
  const auto named = is_lora_run(config) ? trainable_parameters(task_->model()) : task_->model().named_parameters();
  for (const auto& [name, param] : named) params_.push_back(param), param_names_.push_back(name);
  check_training_numbers(config);
  optimizer_ = make_optimizer(config.optimizer(), named);
  total_steps_ = config.trainer().steps() > 0 ? config.trainer().steps() : task_->default_steps(config.trainer());
  schedule_ = make_schedule(config.schedule(), config.optimizer(), total_steps_);
  parallel_ = std::make_unique<DataParallel>(config, *task_, params_);
  parallel_->shard_optimizer_state(*optimizer_);
}

void TrainingRun::resume_or_start() {
  const auto path = options_.run_dir / kCheckpointFile;
  if (options_.fresh || !std::filesystem::exists(path)) {
    if (parallel_->writes_run_folder()) {
      std::filesystem::create_directories(options_.run_dir);
      std::filesystem::remove(options_.run_dir / "metrics.jsonl");
    }
    const std::string& init_from = config_.quantization().init_from();
    if (!init_from.empty()) load_init_weights(task_->model(), init_from);
    const std::string& imatrix = config_.quantization().imatrix();
    if (!imatrix.empty()) {
      if (parallel_->writes_run_folder()) keep_run_imatrix(options_.run_dir, imatrix);
      apply_importance_file(task_->model(), imatrix);  // every rank: the copy is rank 0's to write
    }
    return;
  }
  const RunFolder run = open_run_folder(options_.run_dir, CheckpointParts::kAll);
  const Checkpoint& c = run.checkpoint;
  if (to_text(comparable(run.config)) != to_text(comparable(config_))) {
    throw std::invalid_argument(path.string() + " was written by a different config; use --fresh to start over or "
                                "--run-dir for a new folder. Saved config:\n" + c.config_text);
  }
  load_run_weights(task_->model(), config_, c, path.string());
  apply_run_importance(task_->model(), config_.quantization().imatrix(), options_.run_dir);  // the run folder's copy
  optimizer_->load_state(c.optimizer, c.counters);
  parallel_->after_optimizer_load();  // ZeRO-1: keep this rank's share only
  task_->load_state(c.metadata);
  window_.sum = std::stod(metadata_value(c.metadata, "loss_window.sum", path.string()));
  window_.count = std::stoll(metadata_value(c.metadata, "loss_window.count", path.string()));
  last_window_.sum = std::stod(metadata_value(c.metadata, "last_window.sum", path.string()));
  last_window_.count = std::stoll(metadata_value(c.metadata, "last_window.count", path.string()));
  start_step_ = c.step;
}

void TrainingRun::save(int64_t step) {
  parallel_->check_in_sync(step);  // before writing: a checkpoint of drifted ranks would be rank 0's alone
  optim::NamedTensors optimizer_state = optimizer_->state();
  optim::NamedCounts counters = optimizer_->step_counts();
  parallel_->gather_optimizer_state(optimizer_state, counters);  // every rank takes part
  if (!parallel_->writes_run_folder()) return;
  Checkpoint c;
  c.step = step;
  c.config_text = to_text(config_);
  // LoRA runs save the adapters, not the base they were trained on (lora.base rebuilds it).
  const auto named = is_lora_run(config_) ? trainable_parameters(task_->model()) : task_->model().named_parameters();
  for (const auto& [name, param] : named) c.model.emplace_back(name, param.data());
  if (!is_lora_run(config_)) {  // a LoRA run keeps no state but its adapters
    for (const auto& [name, buffer] : task_->model().named_buffers()) c.buffers.emplace_back(name, *buffer);
  }
  c.optimizer = std::move(optimizer_state);
  c.counters = std::move(counters);
  c.metadata = task_->save_state();
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", window_.sum);
  c.metadata.emplace_back("loss_window.sum", number);
  c.metadata.emplace_back("loss_window.count", std::to_string(window_.count));
  std::snprintf(number, sizeof number, "%.17g", last_window_.sum);
  c.metadata.emplace_back("last_window.sum", number);
  c.metadata.emplace_back("last_window.count", std::to_string(last_window_.count));
  save_checkpoint(options_.run_dir, c);
}

}  // namespace

// Data parallel: the root rank alone writes the run folder; the others read the checkpoint it wrote.
void TrainingRun::open_run() {
  const bool root = parallel_->writes_run_folder();
  if (root) lock_.emplace(options_.run_dir);  // a second train on this folder refuses
  resume_or_start();
  parallel_->check_in_sync(start_step_);
  if (!root) return;
  io::write_file_atomically(options_.run_dir / "config.pbtxt", to_text(config_));
  metrics_ = std::make_unique<MetricsLog>(options_.run_dir / "metrics.jsonl");
}

void TrainingRun::write_summary(int64_t step, double step_seconds) {
  const double items = static_cast<double>((step - start_step_) * task_->items_per_step());
  std::map<std::string, double> summary{{"train_seconds", step_seconds},
                                       {task_->item_unit() + std::string("_per_second"), items / step_seconds}};
  parallel_->add_summary(summary, step - start_step_);
  log(step, "summary", summary);
}

RunResult TrainingRun::run() {
  open_run();
  std::unique_ptr<FILE, int (*)(FILE*)> quiet(lock_ ? nullptr : std::fopen("/dev/null", "w"), std::fclose);
  ProgressReporter progress(total_steps_, task_->item_unit(), lock_ ? stdout : quiet.get());  // the root's only
  if (parallel_->dist().active()) progress.message(parallel_->describe());
  const int64_t log_every = config_.trainer().log_every() > 0 ? config_.trainer().log_every() : 10;
  const int64_t eval_every = config_.trainer().eval_every(), checkpoint_every = config_.trainer().checkpoint_every();
  const double clip = config_.optimizer().clip_grad_norm();
  RunResult result;
  result.start_step = start_step_;
  int64_t step = start_step_;
  // Time inside training steps only (not evaluation or checkpoints): the throughput benches quote.
  double step_seconds = 0.0;
  while (step < total_steps_) {
    const auto step_start = std::chrono::steady_clock::now();
    optim::apply_schedule(*optimizer_, *schedule_);
    autograd::Variable loss = task_->training_loss(step);
    optimizer_->zero_grad();
    parallel_->backward(loss, step + 1);  // gradients averaged over ranks
    inject_nonfinite_gradient(step + 1);
    const double loss_value = parallel_->mean_loss(loss.item());
    // The norm is a sum of squares in double: finite exactly when every gradient element is.
    const double norm = clip > 0 ? optim::clip_grad_norm(params_, clip) : optim::grad_norm(params_);
    const bool finite = std::isfinite(loss_value) && std::isfinite(norm);
    if (finite) {
      parallel_->optimizer_step(*optimizer_);
      skipped_in_a_row_ = 0;
    } else {
      skip_nonfinite_step(step + 1, loss_value, progress);
    }
    step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    ++step;
    if (finite) window_.sum += loss_value, ++window_.count;
    progress.update(step, loss_value, task_->items_per_step(), log_every);
    if (step % log_every == 0 || step == total_steps_) {
      std::map<std::string, double> values{{"loss", window_.mean()}, {"lr", optimizer_->groups()[0].lr},
                                           {task_->item_unit() + std::string("_per_second"), progress.items_per_second()}};
      if (config_.trainer().skip_nonfinite()) values["skipped_steps"] = static_cast<double>(skipped_steps_);
      log(step, "train", values);
      last_window_ = window_;
      window_ = {};
    }
    if (eval_every > 0 && step % eval_every == 0 && step < total_steps_) {
      evaluate(step, result);
      progress.message("eval step " + std::to_string(step) + ": val_loss=" + std::to_string(result.val_loss));
    }
    const bool stopping = options_.stop_after_steps > 0 && step - start_step_ >= options_.stop_after_steps;
    if ((checkpoint_every > 0 && step % checkpoint_every == 0) || stopping) save(step);
    if (stopping) break;
  }
  progress.finish();
  result.step = step;
  result.train_loss = last_window_.mean();
  write_summary(step, step_seconds);
  if (step == total_steps_) {
    evaluate(step, result);
    if (!std::isfinite(result.val_loss))
      throw std::runtime_error("training ended with a validation loss that is not finite (" + std::to_string(result.val_loss) +
                               "): the final checkpoint is not saved, the run's last one is kept");
    save(step);
  }
  return result;
}

// Fault injection for tests (tests/cli/nonfinite_guard.sh): QFORGE_INJECT_NONFINITE_STEP=N puts a NaN into
// the first trainable parameter's gradient at step N, a bad batch without a diverged model.
void TrainingRun::inject_nonfinite_gradient(int64_t step) {
  static const char* env = std::getenv("QFORGE_INJECT_NONFINITE_STEP");
  if (!env || std::strtoll(env, nullptr, 10) != step) return;
  for (autograd::Variable& p : params_) {
    if (!p.requires_grad() || !p.has_grad()) continue;
    p.add_grad(autograd::Tensor::full(p.grad().shape(), NAN));
    return;
  }
}

// A step whose loss or gradient is not finite: stop (before anything is saved, so the last checkpoint
// stays the run's) naming the step, the loss and the first parameter whose gradient is not finite, or,
// with trainer.skip_nonfinite, drop its update.
void TrainingRun::skip_nonfinite_step(int64_t step, double loss, ProgressReporter& progress) {
  std::string what = "step " + std::to_string(step) + ": loss " + std::to_string(loss);
  for (size_t i = 0; i < params_.size(); ++i) {
    const autograd::Variable& p = params_[i];
    if (!p.requires_grad() || !p.has_grad()) continue;
    const autograd::Tensor& g = p.grad();
    if (!std::all_of(g.data(), g.data() + g.numel(), [](float x) { return std::isfinite(x); })) {
      what += ", the gradient of '" + param_names_[i] + "' is not finite";
      break;
    }
  }
  optimizer_->zero_grad();
  // Skipping helps when a batch is bad, not when an earlier update already broke the weights.
  for (size_t i = 0; i < params_.size() && config_.trainer().skip_nonfinite(); ++i) {
    const autograd::Tensor& w = params_[i].data();
    if (!std::all_of(w.data(), w.data() + w.numel(), [](float x) { return std::isfinite(x); }))
      throw std::runtime_error("training stopped at " + what + ": parameter '" + param_names_[i] +
                               "' itself is not finite (an earlier update diverged; skipping cannot recover); "
                               "the run's last checkpoint is kept (lower optimizer.lr or set optimizer.clip_grad_norm)");
  }
  // Weights that are finite but so large that every batch overflows: a bad batch is rare, ten in a row
  // is the model.
  if (config_.trainer().skip_nonfinite() && ++skipped_in_a_row_ >= kMaxSkippedInARow)
    throw std::runtime_error("training stopped at " + what + ": " + std::to_string(kMaxSkippedInARow) +
                             " steps in a row were not finite, so the model itself has diverged; the run's last "
                             "checkpoint is kept (lower optimizer.lr or set optimizer.clip_grad_norm)");
  if (config_.trainer().skip_nonfinite()) {
    ++skipped_steps_;
    progress.message(what + ": step skipped (trainer.skip_nonfinite)");
    return;
  }
  throw std::runtime_error("training stopped at " + what + "; the run's last checkpoint is kept (lower optimizer.lr, "
                           "set optimizer.clip_grad_norm, or trainer.skip_nonfinite: true to skip such steps)");
}

void TrainingRun::evaluate(int64_t step, RunResult& result) {
  const Evaluation e = task_->evaluate(config_.trainer().eval_batches());
  result.val_loss = e.loss;
  result.val_accuracy = e.accuracy;
  std::map<std::string, double> values{{"val_loss", e.loss}};
  if (e.accuracy) values["val_accuracy"] = *e.accuracy;
  log(step, "eval", values);
}

RunResult train(const config::RunConfig& config, const TrainOptions& options) {
  try {
    TrainingRun run(with_init_model(with_base_model(config)), options);
    return run.run();
  } catch (const std::exception& e) {
    // One rank's error must not leave the others waiting in a collective: end the whole job.
    Distributed& dist = Distributed::world();
    if (dist.active()) dist.abort(e.what());
    throw;
  }
}

}  // namespace qforge::trainers
