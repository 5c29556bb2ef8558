"""The screens: one module per top-level mode, plus drill-downs and dialogs."""
