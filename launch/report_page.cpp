#include "launch/report_page.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace arena {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStyle = R"(body{font-family:sans-serif;margin:1.5em auto;max-width:1950px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
.note{background:#fff4e0;border-left:4px solid #e69500;padding:.3em .6em;margin:.3em 0}
.figs{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;flex:0 1 620px}figure img{width:100%;height:auto;
border:1px solid #ddd}figcaption{font-size:.9em;color:#444}.missing{border:1px dashed #e69500;padding:1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}nav a{margin-right:1em})";

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void write_page(const std::string& path, const std::string& title, const std::vector<std::string>& intro,
                const std::vector<Section>& sections) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(title)
      << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << html_escape(title) << "</h1>\n";
    for (const auto& p : intro) f << "<p>" << html_escape(p) << "</p>\n";
    f << "<nav>";
    for (const auto& s : sections) f << "<a href=\"#" << s.id << "\">" << html_escape(s.title) << "</a>";
    f << "</nav>\n";
    for (const auto& s : sections) {
      f << "<section id=\"" << s.id << "\">\n<h2>" << html_escape(s.title) << "</h2>\n";
      for (const auto& n : s.notes) f << "<p class=\"note\">" << html_escape(n) << "</p>\n";
      for (const auto& p : s.text) f << "<p>" << html_escape(p) << "</p>\n";
      for (const auto& t : s.tables) {
        f << "<table>\n<tr>";
        for (const auto& h : t.header) f << "<th>" << html_escape(h) << "</th>";
        f << "</tr>\n";
        for (const auto& row : t.rows) {
          f << "<tr>";
          for (const auto& c : row) f << "<td>" << html_escape(c) << "</td>";
          f << "</tr>\n";
        }
        f << "</table>\n";
      }
      if (!s.figures.empty()) f << "<div class=\"figs\">\n";
      for (const auto& fig : s.figures) {
        f << "<figure>";
        if (fig.image.empty()) {
          f << "<div class=\"missing\">" << html_escape(fig.title) << ": not drawn</div>";
        } else {
          f << "<img src=\"" << html_escape(fig.image) << "\" alt=\"" << html_escape(fig.title) << "\">";
        }
        f << "<figcaption><b>" << html_escape(fig.title) << ".</b> " << html_escape(fig.caption)
          << "</figcaption></figure>\n";
      }
      if (!s.figures.empty()) f << "</div>\n";
      f << "</section>\n";
    }
    f << "</body>\n</html>\n";
    check(static_cast<bool>(f), "{}: cannot write", tmp);
  }
  fs::rename(tmp, path);
}

}  // namespace arena
