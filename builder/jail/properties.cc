#include "jail/properties.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/fs.h"


namespace romimg::jail {

namespace {

struct LogicalLine {
    size_t begin = 0;  // offset of its first physical line
    size_t end = 0;    // offset just past its last physical line's end of line
};

// A physical line continues when it ends in an odd number of backslashes.
bool continues(const std::string& text, size_t line_begin, size_t line_end) {
    size_t n = 0;
    for (size_t i = line_end; i > line_begin && text[i - 1] == '\\'; --i) ++n;
    return n % 2 == 1;
}

size_t end_of_physical(const std::string& text, size_t from) {
    size_t nl = text.find_first_of("\r\n", from);
    return nl == std::string::npos ? text.size() : nl;
}

size_t past_eol(const std::string& text, size_t eol) {
    if (eol < text.size() && text[eol] == '\r') ++eol;
    if (eol < text.size() && text[eol] == '\n') ++eol;
    return eol;
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

}  // namespace

namespace {

// Where `key`'s value is in a .properties text: from its first character to the end of its
// logical line (continuations included, its end of line not); npos if the key is absent.
struct ValueSpan {
    size_t begin = std::string::npos, end = std::string::npos;
    bool empty = false;  // "key=" alone, or "key=\" continued onto blank lines only
};

ValueSpan find_value(const std::string& text, const std::string& key) {
    ValueSpan span;
    for (size_t pos = 0; pos < text.size();) {
        size_t i = pos;
        while (i < text.size() && blank(text[i])) ++i;
        size_t eol = end_of_physical(text, i);
        const bool comment = i < text.size() && (text[i] == '#' || text[i] == '!');
        bool found = false;
        if (!comment && i < eol) {
            // The key: up to an unescaped blank, '=' or ':'.
            size_t k = i;
            while (k < eol && !blank(text[k]) && text[k] != '=' && text[k] != ':') k += text[k] == '\\' ? 2 : 1;
            if (k > eol) k = eol;
            if (text.compare(i, k - i, key) == 0 && k - i == key.size()) {
                size_t v = k;
                while (v < eol && blank(text[v])) ++v;
                if (v < eol && (text[v] == '=' || text[v] == ':')) ++v;
                while (v < eol && blank(text[v])) ++v;
                span = ValueSpan{};
                span.begin = v;
                span.empty = v == eol;
                if (!span.empty && text[v] == '\\' && v + 1 == eol) {
                    size_t next = past_eol(text, eol), rest = next;
                    while (rest < text.size() && blank(text[rest])) ++rest;
                    span.empty = rest >= text.size() || text[rest] == '\r' || text[rest] == '\n';
                }
                found = true;
            }
        }
        // Skip to the next logical line (comments never continue).
        while (!comment && eol < text.size() && continues(text, pos, eol)) {
            pos = past_eol(text, eol);
            eol = end_of_physical(text, pos);
        }
        if (found) span.end = eol;  // the last one wins, as in java.util.Properties
        pos = past_eol(text, eol);
        if (pos == eol) break;  // the last line had no end of line
    }
    return span;
}

std::string with_key(const std::string& text, const std::string& key, const std::string& value) {
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out + key + "=" + value + "\n";
}

}  // namespace

std::string add_to_property_list(const std::string& text, const std::string& key, const std::vector<std::string>& items) {
    const std::string joined = fmt::format("{}", fmt::join(items, ","));
    const ValueSpan v = find_value(text, key);
    if (v.begin == std::string::npos) return with_key(text, key, joined);
    return text.substr(0, v.begin) + joined + (v.empty ? "" : ",") + text.substr(v.begin);
}

std::string set_property(const std::string& text, const std::string& key, const std::vector<std::string>& items) {
    const std::string joined = fmt::format("{}", fmt::join(items, ","));
    const ValueSpan v = find_value(text, key);
    if (v.begin == std::string::npos) return with_key(text, key, joined);
    return text.substr(0, v.begin) + joined + text.substr(v.end);
}

JailPlan apply_property_edits(JailPlan plan, const std::vector<recipe::PropertyEdit>& edits,
                              const std::filesystem::path& template_file) {
    for (const auto& e : edits) {
        JailNode* node = nullptr;
        for (auto& n : plan.nodes)
            if (n.path == e.file) node = &n;
        if (!node || (node->kind != JailNode::file && node->kind != JailNode::generated))
            throw ConfigError(template_file, 0,
                              fmt::format("jail.properties: {} is {} in the jail of {}: name the .properties file "
                                          "itself (the trace or jail.include must bring it in; not a path through a symlink)",
                                          e.file, node ? "not a regular file" : "not", plan.service));
        const std::string before = node->kind == JailNode::file ? fs::read_file(node->source) : node->content;
        node->content = e.set ? set_property(before, e.key, e.add) : add_to_property_list(before, e.key, e.add);
        node->size = node->content.size();
        node->why = fmt::format("{}{}romimg {} {} (template jail.properties; the host's file is unchanged)",
                                node->why, node->why.empty() ? "" : "; ",
                                e.set ? fmt::format("set {} to", e.key) : fmt::format("added {} to", fmt::join(e.add, ",")),
                                e.set ? fmt::format("{}", fmt::join(e.add, ",")) : e.key);
        node->kind = JailNode::generated;
    }
    return plan;
}

}  // namespace romimg::jail
