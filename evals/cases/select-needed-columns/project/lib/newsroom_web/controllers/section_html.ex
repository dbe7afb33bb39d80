defmodule NewsroomWeb.SectionHTML do
  use NewsroomWeb, :html

  embed_templates "section_html/*"
end
