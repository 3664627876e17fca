// The TOML config loaders of both programs, on any text: a config or an error naming the file,
// never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/agent_config.hpp"
#include "server/server_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* name : {"server.toml", "agent.toml"}) {
    auto server = fleetdesk::server::ParseServerConfig(text, name);
    auto agent = fleetdesk::agent::ParseAgentConfig(text, name);
    for (const auto* error :
         {server.ok() ? nullptr : &server.error(), agent.ok() ? nullptr : &agent.error()}) {
      if (error != nullptr && error->message.empty()) std::abort();
    }
  }
  return 0;
}
