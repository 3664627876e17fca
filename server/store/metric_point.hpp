// The history's metric sample of a report: what the hosts' metric series keep of its Metrics.
#pragma once

#include "fleetdesk/v1/agent.pb.h"
#include "server/store/model.hpp"

namespace fleetdesk::server::store {

// CPU, memory and fullest-filesystem percentages, load and network rates; at_ms left unset.
MetricPoint MetricPointOf(const fleetdesk::v1::Metrics& metrics);

// Carries `metrics` in the delta: its serialized body and its sample.
void SetMetrics(HostDelta& delta, const fleetdesk::v1::Metrics& metrics);

}  // namespace fleetdesk::server::store
