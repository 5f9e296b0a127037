"""Case and review reports: one self-contained HTML file and the same as PDF, written offline."""
