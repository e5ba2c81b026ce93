"""Lambda handlers: each subpackage is bundled on its own with the few drkit.core modules it imports."""
