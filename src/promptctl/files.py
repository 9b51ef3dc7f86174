"""The front door to promptctl's files, split by job: where files come from (`sources`),
YAML into models with lines (`yamlfile`), prompt loading (`prompt_files`) and promptctl.yaml
(`config`). Callers may import from here or from those modules."""

from __future__ import annotations

from .config import CONFIG_FILE, find_root, load_config
from .prompt_files import (PARTIALS_DIR, PROMPT_FILE, check_name, content_digest,
                           list_prompt_names, load_prompt, prompt_dir)
from .safeyaml import load_yaml
from .sources import DictSource, FileSource, WorkingTree, decode_text, outside_reference
from .yamlfile import key_lines, parse_model, scalar_start_line, validation_problems

__all__ = ["CONFIG_FILE", "PARTIALS_DIR", "PROMPT_FILE", "DictSource", "FileSource", "WorkingTree",
           "check_name", "content_digest", "decode_text", "find_root", "key_lines",
           "list_prompt_names", "load_config", "load_prompt", "load_yaml", "outside_reference",
           "parse_model", "prompt_dir", "scalar_start_line", "validation_problems"]
