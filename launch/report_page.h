// The report's HTML page: sections of notes, small tables and figures, in one self-contained file
// (inline CSS, images by relative file name beside it, no script, nothing fetched from a network).
#pragma once

#include <string>
#include <vector>

namespace arena {

struct Figure {
  std::string image;    // file name beside the page ("loss.png"); "" when the chart could not be drawn
  std::string title;    // also the image's alt text
  std::string caption;  // what it shows and how it was computed
};

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct Section {
  std::string id;     // HTML anchor
  std::string title;
  std::vector<std::string> text;   // paragraphs
  std::vector<std::string> notes;  // what is missing or could not be read: shown as warnings
  std::vector<Table> tables;
  std::vector<Figure> figures;
};

// Writes the page atomically (temp file + rename). Throws arena::Error when it cannot.
void write_page(const std::string& path, const std::string& title, const std::vector<std::string>& intro,
                const std::vector<Section>& sections);

// Text with &, <, >, " escaped.
std::string html_escape(const std::string& s);

}  // namespace arena
