#pragma once
// `qforge study`: research QAT against PTQ on one model and data set. Trains (or resumes) the float
// run, then for every weight scheme of the grid quantizes it post-training (once per PTQ observer)
// and fine-tunes it with fake quantization from the float weights (QAT), evaluates every cell on the
// same validation data, and writes report.md, results.csv and plot.svg (trainers/study/study_report.h).
// Every cell is a run folder under the output directory, so an interrupted study resumes where it
// stopped and each cell can be evaluated, sampled or exported on its own.
#include <filesystem>
#include <vector>

#include "trainers/run_config.h"
#include "trainers/study/gguf_cells.h"
#include "trainers/study/study_report.h"

namespace qforge::trainers {

config::StudyConfig load_study_config(const std::filesystem::path& path);

// Runs the grid; `command` is quoted in the report. Returns the rows written to results.csv. `gguf`:
// the writers of the gguf: schemes' files (gguf_cells.h); a grid without such schemes needs none.
std::vector<StudyResult> run_study(const config::StudyConfig& study, const std::filesystem::path& output_dir,
                                   const std::string& command, const GgufStudyTools& gguf = {});

}  // namespace qforge::trainers
