#include "server/store/inventory_diff.hpp"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <set>

namespace fleetdesk::server::store {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Fields that change with load rather than with the machine.
const std::set<std::string>& VolatileFields() {
  static const std::set<std::string> fields = {
      "fleetdesk.v1.Filesystem.used_bytes",
      "fleetdesk.v1.CpuInventory.mhz",
  };
  return fields;
}

constexpr std::size_t kMaxSummary = 200;

struct Flat {
  std::map<std::string, std::string> values;    // path -> value
  std::map<std::string, std::string> elements;  // element path -> summary
};

std::string ScalarText(const Message& m, const FieldDescriptor* f, int index) {
  const auto* r = m.GetReflection();
  const bool repeated = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return repeated ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(repeated ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(repeated ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(repeated ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(repeated ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = repeated ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%g", v);
      return buffer;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = repeated ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%g", v);
      return buffer;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return repeated ? r->GetRepeatedEnum(m, f, index)->name() : r->GetEnum(m, f)->name();
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return {};
}

bool IsTimestamp(const FieldDescriptor* f) {
  return f->message_type() != nullptr &&
         f->message_type()->full_name() == "google.protobuf.Timestamp";
}

std::string TimestampText(const Message& m) {
  google::protobuf::Timestamp t;
  t.CopyFrom(m);
  if (t.seconds() == 0 && t.nanos() == 0) return {};
  return google::protobuf::util::TimeUtil::ToString(t);
}

// An element's key: its first non-empty string field (name, locator, mount point, ...); else
// its position.
std::string ElementKey(const Message& m, int index) {
  const auto* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) continue;
    auto value = m.GetReflection()->GetString(m, f);
    if (!value.empty()) return value;
  }
  return "#" + std::to_string(index + 1);
}

void FlattenInto(const Message& m, const std::string& prefix, Flat& out);

std::string Summary(const Message& m) {
  Flat inner;
  FlattenInto(m, "", inner);
  std::string text;
  for (const auto& [key, value] : inner.values) {
    if (value.empty() || value == "0") continue;
    if (!text.empty()) text += ", ";
    text += key + "=" + value;
    if (text.size() > kMaxSummary) {
      text.resize(kMaxSummary);
      text += "...";
      break;
    }
  }
  return text.empty() ? "present" : text;
}

void FlattenInto(const Message& m, const std::string& prefix, Flat& out) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (VolatileFields().count(f->full_name()) != 0) continue;
    const std::string path = prefix + f->name();
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        std::vector<std::string> items;
        for (int k = 0; k < n; ++k) items.push_back(ScalarText(m, f, k));
        std::sort(items.begin(), items.end());
        std::string joined;
        for (const auto& item : items) joined += (joined.empty() ? "" : ", ") + item;
        out.values[path] = joined;
        continue;
      }
      std::map<std::string, int> seen;
      for (int k = 0; k < n; ++k) {
        const auto& element = r->GetRepeatedMessage(m, f, k);
        std::string key = ElementKey(element, k);
        if (int count = ++seen[key]; count > 1) key += "#" + std::to_string(count);
        const std::string element_path = path + "[" + key + "]";
        out.elements[element_path] = Summary(element);
        FlattenInto(element, element_path + ".", out);
      }
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const auto& sub = r->GetMessage(m, f);
      if (IsTimestamp(f)) {
        out.values[path] = TimestampText(sub);
      } else {
        FlattenInto(sub, path + ".", out);
      }
      continue;
    }
    out.values[path] = ScalarText(m, f, 0);
  }
}

// The section's content under its name ("memory."), without the hash.
Flat FlattenSection(const fleetdesk::v1::InventorySection& section) {
  Flat out;
  const auto* oneof = section.GetDescriptor()->FindOneofByName("section");
  const auto* field = section.GetReflection()->GetOneofFieldDescriptor(section, oneof);
  if (field == nullptr) return out;
  FlattenInto(section.GetReflection()->GetMessage(section, field), field->name() + ".", out);
  return out;
}

// The element path a value path lies under, if any: "software.packages[x]" for
// "software.packages[x].version". Keys may hold dots, so search for "]." from the end.
std::string ElementOf(const std::string& path, const std::map<std::string, std::string>& a,
                      const std::map<std::string, std::string>& b) {
  for (auto pos = path.rfind("]."); pos != std::string::npos;
       pos = pos == 0 ? std::string::npos : path.rfind("].", pos - 1)) {
    auto element = path.substr(0, pos + 1);
    if (a.count(element) != 0 || b.count(element) != 0) return element;
  }
  return {};
}

}  // namespace

std::vector<FieldChange> DiffSections(const fleetdesk::v1::InventorySection& before,
                                      const fleetdesk::v1::InventorySection& after) {
  const Flat a = FlattenSection(before);
  const Flat b = FlattenSection(after);
  std::vector<FieldChange> changes;
  for (const auto& [element, summary] : a.elements) {
    if (b.elements.count(element) == 0) changes.push_back({element, summary, ""});
  }
  for (const auto& [element, summary] : b.elements) {
    if (a.elements.count(element) == 0) changes.push_back({element, "", summary});
  }
  // A value inside an element that appeared or went is covered by that element's change.
  auto inside_one_side = [&](const std::string& path) {
    auto element = ElementOf(path, a.elements, b.elements);
    return !element.empty() && (a.elements.count(element) == 0 || b.elements.count(element) == 0);
  };
  for (const auto& [path, value] : b.values) {
    auto old = a.values.find(path);
    const std::string old_value = old == a.values.end() ? "" : old->second;
    if (old_value == value || inside_one_side(path)) continue;
    changes.push_back({path, old_value, value});
  }
  for (const auto& [path, value] : a.values) {
    if (b.values.count(path) != 0 || value.empty() || inside_one_side(path)) continue;
    changes.push_back({path, value, ""});
  }
  std::sort(changes.begin(), changes.end(),
            [](const FieldChange& x, const FieldChange& y) { return x.path < y.path; });
  return changes;
}

}  // namespace fleetdesk::server::store
