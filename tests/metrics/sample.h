/* tests/metrics: one registry and one set of broker counters with a
 * distinct value in every series, shared by print_metrics and the Check
 * suite (so promtool lints exactly what the suite checks). */
#ifndef METRICS_SAMPLE_H
#define METRICS_SAMPLE_H

#include "metrics.h"

void metrics_sample(struct chatd_metrics *m, chat_stats *st);

#endif
