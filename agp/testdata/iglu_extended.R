# Produces agp/testdata/iglu_example_5_subject.extended.iglu.txt: iglu's all_metrics() with its
# default parameters on testdata/iglu_example_5_subject.csv, times read in "EST" (fixed UTC-05:00).
#
# Our driver, not iglu's code: iglu is GPL and is never copied into this repository. It needs
# iglu's R sources in a directory (default /tmp/iglu-src; see the header of the output file for
# which ones and how they were obtained) and R with dplyr, tidyr, lubridate, zoo, caTools,
# magrittr, tibble (Debian: r-base-core r-cran-dplyr r-cran-tidyr r-cran-lubridate r-cran-zoo
# r-cran-catools r-cran-magrittr r-cran-tibble).
#
#   TZ=EST Rscript agp/testdata/iglu_extended.R [IGLU_SRC_DIR] > agp/testdata/iglu_example_5_subject.extended.iglu.txt.body
#
# It prints subject|column|value lines (17 significant digits, NA as NA) and, on stderr, checks
# the consensus figures against agp/testdata/iglu_example_5_subject.iglu.txt.
args <- commandArgs(trailingOnly = TRUE)
src <- if (length(args) > 0) args[1] else "/tmp/iglu-src"
suppressMessages({library(magrittr); library(dplyr)})
for (f in sort(list.files(src, pattern = "[.]R$", full.names = TRUE))) source(f)

d <- read.csv("testdata/iglu_example_5_subject.csv", stringsAsFactors = FALSE)
# "2015-06-06T16:50:27-05:00": the wall-clock part read in EST, as the consensus reference was.
d$time <- as.POSIXct(substr(d$time, 1, 19), format = "%Y-%m-%dT%H:%M:%S", tz = "EST")
d$gl <- as.numeric(d$gl)

out <- suppressWarnings(suppressMessages(all_metrics(d, tz = "EST")))
out <- as.data.frame(out)
cols <- setdiff(names(out), c("id", "start_date", "end_date"))
num <- function(v) if (is.na(v)) "NA" else trimws(formatC(v, digits = 17, format = "g"))
for (i in seq_len(nrow(out))) {
  for (cl in cols) cat(sprintf("%s|%s|%s\n", out$id[i], cl, num(as.numeric(out[[cl]][i]))))
}

# Sanity check of the setup: the consensus figures of this run against the reference that the
# engine already matches (agp/testdata/iglu_example_5_subject.iglu.txt).
ref <- read.table("agp/testdata/iglu_example_5_subject.iglu.txt", sep = "|", fill = TRUE,
                  comment.char = "#", col.names = paste0("V", 1:8), stringsAsFactors = FALSE)
pairs <- list(c("active", "active_percent"), c("ndays", "ndays"), c("gmi", "GMI"), c("cv", "CV"),
              c("sd", "SD"), c("mean", "Mean"), c("very_low", "below_54"), c("below70", "below_70"),
              c("above180", "above_180"), c("very_high", "above_250"), c("in_range", "in_range_70_180"),
              c("ep_hypo_lv1", "hypo_lv1"), c("ep_hypo_lv2", "hypo_lv2"), c("ep_hypo_extended", "hypo_extended"),
              c("ep_hyper_lv1", "hyper_lv1"), c("ep_hyper_lv2", "hyper_lv2"),
              c("ep_hypo_lv1_excl", "hypo_lv1_excl"), c("ep_hyper_lv1_excl", "hyper_lv1_excl"))
bad <- 0; n <- 0
for (p in pairs) {
  for (i in seq_len(nrow(out))) {
    r <- ref[ref$V1 == out$id[i] & ref$V2 == p[1], "V3"]
    want <- as.numeric(r); got <- as.numeric(out[[p[2]]][i]); n <- n + 1
    if (abs(got - want) > 1e-9 * max(abs(want), abs(got))) {
      bad <- bad + 1
      message(sprintf("MISMATCH %s %s: %.17g (this run) vs %.17g (consensus reference)", out$id[i], p[2], got, want))
    }
  }
}
message(sprintf("consensus sanity check: %d of %d figures equal to the consensus reference", n - bad, n))
