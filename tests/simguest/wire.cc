#include "wire.h"

#include <cstring>

namespace simguest {

namespace {

const char* const kTypeNames[] = {
    "CONTROL",
    "DIRECTORY",
    "READ",
    "GET_PERMS",
    "WATCH",
    "UNWATCH",
    "TRANSACTION_START",
    "TRANSACTION_END",
    "INTRODUCE",
    "RELEASE",
    "GET_DOMAIN_PATH",
    "WRITE",
    "MKDIR",
    "RM",
    "SET_PERMS",
    "WATCH_EVENT",
    "ERROR",
    "IS_DOMAIN_INTRODUCED",
    "RESUME",
    "SET_TARGET",
    "RESTRICT",
    "RESET_WATCHES",
    "DIRECTORY_PART",
    "GET_FEATURE",
    "SET_FEATURE",
    "GET_QUOTA",
    "SET_QUOTA",
};

void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t get32(const std::string& in, size_t off) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[off + i])) << (8 * i);
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Message::error_name() const {
  std::string s = payload;
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

std::string encode(const Message& m) {
  std::string out;
  out.reserve(kHeaderSize + m.payload.size());
  put32(out, m.type);
  put32(out, m.req_id);
  put32(out, m.tx_id);
  put32(out, static_cast<uint32_t>(m.payload.size()));
  out += m.payload;
  return out;
}

std::optional<Message> take_message(std::string& buf, bool* bad) {
  if (buf.size() < kHeaderSize) return std::nullopt;
  uint32_t len = get32(buf, 12);
  if (len > kPayloadMax) {
    *bad = true;
    return std::nullopt;
  }
  if (buf.size() < kHeaderSize + len) return std::nullopt;
  Message m{get32(buf, 0), get32(buf, 4), get32(buf, 8), buf.substr(kHeaderSize, len)};
  buf.erase(0, kHeaderSize + len);
  return m;
}

std::optional<uint32_t> type_by_name(const std::string& name) {
  for (uint32_t i = 0; i < sizeof kTypeNames / sizeof kTypeNames[0]; ++i)
    if (name == kTypeNames[i]) return i;
  if (name == "INVALID") return 0xffff;
  if (name.empty() || name.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xffffffffu) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::string escape(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\0') {
      out += "\\0";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::optional<std::string> unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '0':
        out.push_back('\0');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        int hi = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

std::vector<std::string> split_nul(const std::string& payload) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < payload.size()) {
    size_t end = payload.find('\0', start);
    if (end == std::string::npos) end = payload.size();
    out.push_back(payload.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace simguest
