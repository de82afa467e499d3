// YAML file -> Config: the top level, extension:, protected: and router: (endpoints: are in
// load_endpoints.cpp, flags in flags.cpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "settings/settings.hpp"
#include "settings/yaml_reader.hpp"

namespace scoregate::settings {
namespace detail {

std::string YamlReader::file_line(const YAML::Node& n) const {
  const YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0) return source_;
  return source_ + ":" + std::to_string(m.line + 1);
}

std::string YamlReader::where(const YAML::Node& n, const std::string& path) const {
  return file_line(n) + ": " + path;
}

std::string YamlReader::label(const std::string& path) {
  return path.empty() ? std::string("the top level") : path;
}

const char* YamlReader::kind(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "a single value";
}

void YamlReader::wrong_type(const YAML::Node& n, const std::string& path,
                            std::string_view expected) {
  p_.error("SETTING_INVALID_VALUE", where(n, path.empty() ? "(document)" : path),
           label(path) + " must be " + std::string(expected) + ", got " + kind(n),
           "write " + label(path) + " as " + std::string(expected) +
               " (see the scoregate.yaml example in the README)");
}

bool YamlReader::spend(const YAML::Node& at) {
  if (++entries_ <= kMaxEntries) return true;
  if (entries_ == kMaxEntries + 1)
    p_.error("CONFIG_TOO_LARGE", file_line(at),
             "the settings have more than " + std::to_string(kMaxEntries) +
                 " entries (an alias *name counts its anchor's entries every time it is used); "
                 "the rest of the file was not read",
             "write fewer entries (use dns: targets instead of long address lists) and do not "
             "nest aliases of large lists");
  return false;
}

std::optional<std::string> YamlReader::scalar(const YAML::Node& value, const std::string& at,
                                              std::string_view key) {
  if (value.IsScalar()) return value.Scalar();
  const bool empty = value.IsNull();
  p_.error("SETTING_INVALID_VALUE", at,
           std::string(key) + (empty ? " has no value" : " must be a single value, got ") +
               (empty ? "" : kind(value)),
           empty ? "give it a value or remove the line"
                 : "write one value after the colon, e.g. " + std::string(key) + ": VALUE");
  return std::nullopt;
}

void YamlReader::document(const YAML::Node& root) {
  if (root.IsNull()) return;  // an empty file: flags only
  if (!root.IsMap())
    return wrong_type(root, "", "a map with extension:, protected:, router: and endpoints:");
  each_entry(root, "", [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::size_t errors_before = p_.error_count();
    if (k == "extension" || k == "protected") {
      if (!v.IsMap() && !v.IsNull()) c_.unreadable.insert("extension");
      return extension(v, k == "protected");
    }
    if (k == "router") {
      router(v);
      if (p_.error_count() > errors_before) c_.unreadable.insert("router");
      return;
    }
    if (k == "endpoints") {
      record(c_, "endpoints", where(key, "endpoints"));
      endpoints(v);
      if (p_.error_count() > errors_before) c_.unreadable.insert("endpoints");
      return;
    }
    mark_unreadable(c_, k);  // sslCname: at the top level is still the user's sslCname
    // A misspelt section ("extention:") hides everything in it.
    const std::string meant = nearest_key(k, kTopKeys);
    if (meant == "extension" || meant == "protected") c_.unreadable.insert("extension");
    if (meant == "endpoints") c_.unreadable.insert("endpoints");
    const std::string at = where(key, display_key(k));
    // The seed writes settings flat (--config sslCname=...): say which section they go in.
    std::string section = is_extension_key(k)    ? "extension"
                          : is_protected_only(k) ? "protected"
                                                 : std::string();
    if (find_field(kRouterFields, k)) section = "router";
    if (section.empty()) return report_unknown(p_, at, k, kTopKeys, "at the top level");
    p_.error("SETTING_UNKNOWN", at, k + " is not a top-level key",
             "move it under " + section + ": (indented), e.g.\n" + section + ":\n  " + k + ": ...");
  });
}

void YamlReader::extension(const YAML::Node& map, bool protected_section) {
  const std::string section = protected_section ? "protected" : "extension";
  each_entry(map, section, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::size_t errors_before = p_.error_count();
    struct Mark {  // whatever went wrong with this entry, the key it meant is not usable
      Config& c;
      Problems& p;
      std::size_t before;
      const std::string& k;
      ~Mark() {
        if (p.error_count() > before) mark_unreadable(c, k);
      }
    } mark{c_, p_, errors_before, k};
    const std::string at = where(key, section + "." + display_key(k));
    if (!is_extension_key(k) && !is_protected_only(k))
      return report_unknown(p_, at, k, all_extension_keys(), "under " + section + ":",
                            !protected_section);
    if (!protected_section && is_protected_only(k)) {
      p_.error("SETTING_PROTECTED", at,
               k + " is configuration-protected and is not accepted under extension:",
               "move it under protected: (or pass --config-protected " + k + "=PATH)");
      return;
    }
    if (auto text = scalar(v, at, k)) set_extension(c_, k, *text, at, protected_section, p_);
  });
}

template <class S>
void YamlReader::fields(S& s, const std::vector<Field<S>>& table, const YAML::Node& map,
                        const std::string& path) {
  each_entry(map, path, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::string at = where(key, path + "." + display_key(k));
    for (const auto& f : table) {
      if (f.key != k) continue;
      if (path == "router")
        record(c_, "router." + k, at);
      else
        c_.origins[path + "." + k] = at;
      if (auto text = scalar(v, at, k)) set_field(s, f, *text, at, p_);
      return;
    }
    report_unknown(p_, at, k, keys_of(table), "under " + path + ":");
  });
}

template void YamlReader::fields(RequestSettings&, const std::vector<Field<RequestSettings>>&,
                                 const YAML::Node&, const std::string&);
template void YamlReader::fields(ReadinessProbe&, const std::vector<Field<ReadinessProbe>>&,
                                 const YAML::Node&, const std::string&);

void YamlReader::router(const YAML::Node& map) { fields(c_.router, kRouterFields, map, "router"); }

FileText read_text_file(const std::string& path, std::size_t max_bytes, bool regular_only) {
  auto os_error = [](int err) { return std::error_code(err, std::generic_category()).message(); };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) return {std::nullopt, os_error(errno)};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode))) {
    int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    return {std::nullopt, err ? os_error(err) : "not a regular file"};
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return {std::nullopt, os_error(err)};
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return {std::nullopt, "larger than " + std::to_string(max_bytes) + " bytes"};
    }
  }
  ::close(fd);
  return {std::move(text), {}};
}

}  // namespace detail

namespace {

// yaml-cpp puts a piece of the offending text after ':' in a few messages (bad escapes,
// unicode); that text may be a protected value, so only the fixed part is kept.
std::string fixed_part(const std::string& msg) { return msg.substr(0, msg.find(':')); }

void yaml_syntax(Problems& problems, const std::string& source, const YAML::Mark& m,
                 const std::string& msg) {
  std::string where = source;
  std::string pos;
  if (!m.is_null() && m.line >= 0) {
    where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    pos = " at line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1);
  }
  problems.error("CONFIG_YAML_SYNTAX", where, "YAML syntax error" + pos + ": " + fixed_part(msg),
                 "fix the YAML at that position (indent with spaces, not tabs; quote values "
                 "that contain ': ', '#', '[' or '{')");
}

// yaml-cpp 0.7 mishandles whole documents (found by fuzzing): YAML::LoadAll loops forever,
// allocating, on a stray ',' so it cannot be used to look for a second document, and
// YAML::Load reads ", a: 1" as an empty document. Both would drop settings without a word, so
// a line scan finds where the content is. Line numbers are 1-based, 0 = none.
struct DocumentShape {
  int first_content_line = 0;
  int extra_document_line = 0;  // content after the first document ended ("---" or "...")
};

bool is_document_marker(std::string_view line) {
  if (line.substr(0, 3) != "---" && line.substr(0, 3) != "...") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t';
}

// Not blank, a comment, a directive or an explicit null.
bool is_content(std::string_view line) {
  const auto begin = line.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return false;
  line = line.substr(begin, line.find_last_not_of(" \t") - begin + 1);
  return line[0] != '#' && line[0] != '%' && line != "~" && line != "null" && line != "Null" &&
         line != "NULL";
}

DocumentShape document_shape(std::string_view text) {
  DocumentShape shape;
  bool ended = false;
  int number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_document_marker(line)) {
      ended = ended || shape.first_content_line != 0;
      line.remove_prefix(3);  // "--- value" is legal YAML
    }
    if (!is_content(line)) continue;
    if (ended) {
      shape.extra_document_line = number;
      break;
    }
    if (shape.first_content_line == 0) shape.first_content_line = number;
  }
  return shape;
}

void read_document(std::string_view yaml, const std::string& source, Config& config,
                   Problems& problems) {
  const DocumentShape shape = document_shape(yaml);
  YAML::Node root = YAML::Load(std::string(yaml));
  if (root.IsNull() && shape.first_content_line != 0)
    problems.error("CONFIG_YAML_SYNTAX", source + ":" + std::to_string(shape.first_content_line),
                   "YAML syntax error: the file has content from line " +
                       std::to_string(shape.first_content_line) +
                       " on but reads as an empty document",
                   "start the file with a key such as extension: (a stray ',' or similar at the "
                   "start makes YAML ignore the rest)");
  else
    detail::YamlReader(config, problems, source).document(root);
  if (shape.extra_document_line != 0)
    problems.error("CONFIG_YAML_SYNTAX", source + ":" + std::to_string(shape.extra_document_line),
                   "the file holds more than one YAML document (separated by '---' or '...'); "
                   "only the first one is read",
                   "put all settings in one document and remove the extra '---' line");
}

}  // namespace

LoadResult load_from_string(std::string_view yaml, std::string_view source_name,
                            const CommandLine& cl) {
  LoadResult r;
  r.config.source = std::string(source_name);
  const std::string source = source_name.empty() ? std::string("<yaml>") : r.config.source;
  try {
    read_document(yaml, source, r.config, r.problems);
  } catch (const YAML::Exception& e) {
    yaml_syntax(r.problems, source, e.mark, e.msg);
  } catch (const std::exception&) {
    r.problems.error("CONFIG_YAML_SYNTAX", source, "the YAML could not be read", "check the file");
  }
  detail::apply_flags(r.config, cl, r.problems);
  return r;
}

LoadResult load(const CommandLine& cl) {
  constexpr std::size_t kMaxConfigBytes = 16 << 20;
  if (cl.file.empty()) return load_from_string("", "", cl);
  auto file = detail::read_text_file(cl.file, kMaxConfigBytes, false);
  if (file.text) return load_from_string(*file.text, cl.file, cl);
  LoadResult r;
  r.config.source = cl.file;
  r.problems.error("CONFIG_FILE_UNREADABLE", cl.file,
                   "cannot read the settings file: " + file.error,
                   "check the path given with -f and that scoregate may read it");
  detail::apply_flags(r.config, cl, r.problems);  // their problems are worth knowing too
  return r;
}

}  // namespace scoregate::settings
