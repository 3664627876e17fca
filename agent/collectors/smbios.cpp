#include "agent/collectors/smbios.hpp"

#include <cstdint>
#include <cstdio>

#include "agent/collectors/root.hpp"

namespace fleetdesk::agent::collectors {
namespace {

// One structure: its formatted area and its strings (numbered from 1).
struct Structure {
  std::string_view formatted;
  std::vector<std::string_view> strings;

  std::uint8_t Byte(std::size_t offset) const {
    return offset < formatted.size() ? static_cast<std::uint8_t>(formatted[offset]) : 0;
  }
  std::uint16_t Word(std::size_t offset) const {
    return static_cast<std::uint16_t>(Byte(offset) | (Byte(offset + 1) << 8U));
  }
  std::uint32_t Dword(std::size_t offset) const {
    return static_cast<std::uint32_t>(Word(offset)) |
           (static_cast<std::uint32_t>(Word(offset + 2)) << 16U);
  }
  // A string field: the byte at `offset` is the string's number; 0 means none.
  std::string String(std::size_t offset) const {
    auto n = Byte(offset);
    if (n == 0 || n > strings.size()) return {};
    return std::string(Trim(strings[n - 1]));
  }
};

std::string MemoryType(std::uint8_t code) {
  switch (code) {
    case 0x07:
      return "RAM";
    case 0x0F:
      return "SDRAM";
    case 0x12:
      return "DDR";
    case 0x13:
      return "DDR2";
    case 0x18:
      return "DDR3";
    case 0x1A:
      return "DDR4";
    case 0x1B:
      return "LPDDR";
    case 0x1C:
      return "LPDDR2";
    case 0x1D:
      return "LPDDR3";
    case 0x1E:
      return "LPDDR4";
    case 0x20:
      return "HBM";
    case 0x21:
      return "HBM2";
    case 0x22:
      return "DDR5";
    case 0x23:
      return "LPDDR5";
    default:
      return "Unknown";
  }
}

// Type 1's UUID: the first three fields are little-endian (SMBIOS 2.6 and later), as dmidecode
// and /sys/class/dmi/id/product_uuid print it.
std::string Uuid(const Structure& s, std::size_t offset) {
  if (s.formatted.size() < offset + 16) return {};
  const auto* b = reinterpret_cast<const std::uint8_t*>(s.formatted.data() + offset);
  bool all_zero = true;
  bool all_ff = true;
  for (int i = 0; i < 16; ++i) {
    all_zero = all_zero && b[i] == 0;
    all_ff = all_ff && b[i] == 0xFF;
  }
  if (all_zero || all_ff) return {};
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2],
                b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

void ReadMemoryDevice(const Structure& s, SmbiosTable* table) {
  std::uint64_t size_mib = 0;
  std::uint16_t size = s.Word(0x0C);
  if (size == 0 || size == 0xFFFF) return;  // an empty slot, or unknown
  if (size == 0x7FFF) {
    size_mib = s.Dword(0x1C) & 0x7FFFFFFFU;
  } else if ((size & 0x8000U) != 0) {
    size_mib = (size & 0x7FFFU) / 1024;  // the value is in KiB
  } else {
    size_mib = size;
  }
  fleetdesk::v1::MemoryModule module;
  module.set_locator(s.String(0x10));
  module.set_size_bytes(size_mib << 20U);
  module.set_type(MemoryType(s.Byte(0x12)));
  std::uint16_t speed = s.Word(0x15);
  if (speed != 0 && speed != 0xFFFF) module.set_speed_mts(speed);
  module.set_manufacturer(s.String(0x17));
  module.set_serial(s.String(0x18));
  table->modules.push_back(std::move(module));
}

}  // namespace

SmbiosTable ParseSmbios(std::string_view data) {
  SmbiosTable table;
  std::size_t at = 0;
  while (at + 4 <= data.size()) {
    auto type = static_cast<std::uint8_t>(data[at]);
    auto length = static_cast<std::uint8_t>(data[at + 1]);
    if (length < 4 || at + length > data.size()) {
      table.truncated = true;
      break;
    }
    Structure s;
    s.formatted = data.substr(at, length);
    // The string set follows, each NUL-terminated, ended by an extra NUL (two NULs when empty).
    std::size_t end = data.find(std::string_view("\0\0", 2), at + length);
    if (end == std::string_view::npos) {
      table.truncated = true;
      break;
    }
    std::string_view set = data.substr(at + length, end - (at + length));
    if (!set.empty()) {
      for (auto piece : Split(set, '\0')) s.strings.push_back(piece);
    }
    switch (type) {
      case 0:
        table.bios_vendor = s.String(0x04);
        table.bios_version = s.String(0x05);
        table.bios_date = s.String(0x08);
        break;
      case 1:
        table.vendor = s.String(0x04);
        table.product = s.String(0x05);
        table.serial = s.String(0x07);
        table.uuid = Uuid(s, 0x08);
        break;
      case 4:
        if ((s.Byte(0x18) & 0x40U) != 0) ++table.processor_sockets;
        break;
      case 17:
        ReadMemoryDevice(s, &table);
        break;
      default:
        break;
    }
    at = end + 2;
    if (type == 127) break;  // end of table
  }
  return table;
}

}  // namespace fleetdesk::agent::collectors
