"""The page: a side panel for fusion, placement, correction and the rule; the slice views; the decision with
its rule, warnings and refusals; the live IA/IV table. Widgets only: each is bound to a state name or calls a
controller function that :mod:`ragaliv_review.server` defines. ``data-testid`` attributes name what the
end-to-end tests read and click."""

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import html
from trame.widgets import vuetify3 as v3

from .display import PET_WINDOWS_SUV

ORGAN_VOIS = ("Healthy liver", "Spleen", "Kidney left", "Kidney right", "Bone marrow")


def _section(title: str):
    html.Div(title, classes="text-overline mt-3 mb-1")


def _testid(name: str) -> list[str]:
    return [f'data-testid="{name}"']


def _number_field(label: str, name: str, testid: str, **kwargs):
    return v3.VTextField(label=label, v_model=(name,), type="number", density="compact", hide_details=True,
                         variant="outlined", raw_attrs=_testid(testid), classes="mb-2", **kwargs)


def _fusion_panel():
    _section("Fusion")
    with v3.VBtnToggle(v_model=("pet_shown",), mandatory=True, density="compact", color="primary",
                       variant="outlined", divided=True, classes="mb-2"):
        v3.VBtn("IA PET", value="IA", raw_attrs=_testid("show-ia"))
        v3.VBtn("IV PET", value="IV", raw_attrs=_testid("show-iv"))
    v3.VSlider(v_model=("fusion_opacity",), min=0, max=1, step=0.05, label="PET opacity", density="compact",
               hide_details=True, classes="mb-1")
    html.Div("PET window (SUV)", classes="text-caption")
    with v3.VChipGroup(v_model=("pet_window",), mandatory=True, selected_class="bg-primary"):
        for key in PET_WINDOWS_SUV:
            v3.VChip(key, value=key, size="small", raw_attrs=_testid(f"pet-window-{key}"))
    _section("Slices")
    with html.Div(classes="d-flex ga-2"):
        _number_field("Axial S (mm)", "axial_mm", "axial-mm", step=1)
        _number_field("Coronal A (mm)", "coronal_mm", "coronal-mm", step=1)


def _placement_panel(ctrl):
    _section("Place by click")
    v3.VBtn("Add lesion", click=ctrl.arm_lesion, color="primary", block=True, prepend_icon="mdi-target",
            raw_attrs=_testid("add-lesion"), classes="mb-2")
    with v3.VBtnToggle(v_model=("placement_mode",), mandatory=True, density="compact", divided=True,
                       variant="outlined", classes="mb-2"):
        v3.VBtn("Sphere", value="sphere")
        v3.VBtn("PET contour", value="auto")
    with html.Div(classes="d-flex ga-2", v_if="placement_mode === 'sphere'"):
        _number_field("Diameter (mm)", "lesion_diameter_mm", "lesion-diameter-mm")
    with html.Div(classes="d-flex ga-2", v_else=True):
        _number_field("Contour (% of max)", "contour_percent", "contour-percent")
        _number_field("Search radius (mm)", "contour_radius_mm", "contour-radius-mm")
    html.Div("Organ VOIs (one click each)", classes="text-caption")
    with html.Div(classes="d-flex flex-wrap ga-1 mb-2"):
        for name in ORGAN_VOIS:
            v3.VBtn(name, size="small", variant="tonal", click=(ctrl.arm_organ, f"['{name}']"),
                    raw_attrs=_testid(f"organ-{name.lower().replace(' ', '-')}"))
    with v3.VAlert(v_if="armed", type="info", density="compact", variant="tonal", raw_attrs=_testid("armed")):
        html.Span("Click in a view to place {{ armed }}.")
        v3.VBtn("Cancel", size="x-small", variant="text", click=ctrl.disarm, classes="ml-2")


def _correction_panel(ctrl):
    _section("Correct a segment")
    v3.VSelect(label="Segment", v_model=("selected_segment_id",), items=("segment_items",), density="compact",
               hide_details=True, variant="outlined", classes="mb-2", raw_attrs=_testid("segment-select"))
    with v3.VBtnToggle(v_model=("tool",), mandatory=True, density="compact", divided=True, variant="outlined",
                       classes="mb-2"):
        v3.VBtn("Navigate", value="none", raw_attrs=_testid("tool-none"))
        v3.VBtn("Paint", value="paint", raw_attrs=_testid("tool-paint"), disabled=("!selected_segment_id",))
        v3.VBtn("Erase", value="erase", raw_attrs=_testid("tool-erase"), disabled=("!selected_segment_id",))
    v3.VSlider(v_model=("brush_mm",), min=2, max=40, step=1, label="Brush (mm)", density="compact",
               thumb_label=True, hide_details=True)
    with html.Div(classes="d-flex ga-1 mb-2"):
        v3.VBtn("Undo", size="small", variant="tonal", click=ctrl.undo, disabled=("!can_undo",),
                prepend_icon="mdi-undo", raw_attrs=_testid("undo"))
        v3.VBtn("Redo", size="small", variant="tonal", click=ctrl.redo, disabled=("!can_redo",),
                prepend_icon="mdi-redo", raw_attrs=_testid("redo"))
        v3.VBtn("Delete segment", size="small", variant="tonal", color="error", click=ctrl.remove_segment,
                disabled=("!selected_segment_id",), prepend_icon="mdi-delete", raw_attrs=_testid("delete-segment"))


def _rule_panel():
    _section("Rule")
    with html.Div(classes="d-flex ga-2 mb-2"):
        v3.VSelect(label="Metric", v_model=("metric",), items=(["suvmax", "suvmean", "suvpeak"],),
                   density="compact", hide_details=True, variant="outlined", raw_attrs=_testid("metric"))
        v3.VSelect(label="Aggregate", v_model=("aggregate",), items=(["mean", "median"],), density="compact",
                   hide_details=True, variant="outlined", raw_attrs=_testid("aggregate"))
    _number_field("Threshold (IA/IV)", "threshold", "threshold", step=0.1)


def _results():
    with v3.VAlert(type=("eligible === true ? 'success' : (eligible === false ? 'warning' : 'info')",),
                   density="compact", variant="tonal", classes="mb-1", raw_attrs=_testid("decision-box")):
        html.Div("{{ decision }}", classes="font-weight-bold", raw_attrs=_testid("decision"))
        html.Div("Rule: {{ rule }}", classes="text-caption", raw_attrs=_testid("rule"))
    v3.VAlert(v_if="refusal", text=("refusal",), type="error", density="compact", variant="tonal",
              closable=True, classes="mb-1", raw_attrs=_testid("refusal"), click_close="refusal = ''")
    with v3.VAlert(v_if="warnings.length", type="warning", density="compact", variant="outlined", classes="mb-1",
                   raw_attrs=_testid("warnings")):
        html.Div("{{ warning }}", v_for="(warning, index) in warnings", key="index", classes="text-caption")
    with v3.VTable(density="compact", fixed_header=True, raw_attrs=_testid("ratio-table")):
        with html.Thead(), html.Tr():
            html.Th("{{ column.title }}", v_for="column in columns", key="column.key",
                    classes="text-no-wrap text-caption")
        with html.Tbody():
            with html.Tr(v_for="row in rows", key="row.segment",
                         raw_attrs=[':data-segment="row.segment"', 'data-testid="ratio-row"',
                                    '@click="selected_segment_id = row.segment_id"',
                                    ":class=\"row.segment_id === selected_segment_id ? 'bg-blue-grey-darken-3' : ''\"",
                                    'style="cursor: pointer"']):
                html.Td("{{ row.text[column.key] }}", v_for="column in columns", key="column.key",
                        raw_attrs=[':data-column="column.key"'], classes="text-no-wrap text-caption")
    html.Div("Table updated {{ update_count }}× (last {{ (update_seconds * 1000).toFixed(0) }} ms). This page is "
             "one reader's reading: every browser open on it sees and edits the same segments.",
             classes="text-caption text-grey", raw_attrs=_testid("update-info"))


def slice_view_gutter(server, view_id: str, view) -> None:
    """Over each slice view's image: trame-slicer's reset button and slice slider, and the view's name
    (``data-view`` names the view for the end-to-end tests)."""
    from trame_slicer.app.logic import connect_slice_view_slider_to_state
    from trame_slicer.app.ui import Slider, create_vertical_view_gutter_ui

    create_vertical_view_gutter_ui(server, view_id, view)
    html.Div(view.get_orientation(), classes="text-caption text-grey-lighten-1",
             style="position: absolute; top: 6px; right: 10px; pointer-events: none;",
             raw_attrs=[f'data-view="{view_id}"'])
    with html.Div(style="position: absolute; bottom: 0; left: 0; width: 100%;"):
        Slider(typed_state=connect_slice_view_slider_to_state(server, view), theme="dark", dense=True)


def build_page(server, layout_manager, title: str) -> VAppLayout:
    """The whole page; ``layout_manager`` places trame-slicer's slice views."""
    ctrl = server.controller
    with VAppLayout(server, full_height=True, theme="dark") as page:
        with v3.VAppBar(density="compact"):
            v3.VAppBarTitle(f"Ragaliv Review · {title}")
            v3.VTextField(label="Reader", v_model=("reader",), density="compact", hide_details=True,
                          variant="outlined", style="max-width: 260px", classes="mr-2",
                          raw_attrs=_testid("reader"))
            v3.VBtn("Save reading", click=ctrl.save, loading=("saving",), color="success", variant="flat",
                    prepend_icon="mdi-content-save", classes="mr-2", raw_attrs=_testid("save"))
        with v3.VNavigationDrawer(permanent=True, width=340), html.Div(classes="pa-3"):
            _fusion_panel()
            _placement_panel(ctrl)
            _correction_panel(ctrl)
            _rule_panel()
        with v3.VMain(), html.Div(style="display: flex; flex-direction: column; height: calc(100vh - 48px);"):
            with html.Div(style="flex: 3 1 0; display: flex; min-height: 240px;", raw_attrs=_testid("views")):
                layout_manager.initialize_layout_grid(page)
            with html.Div(style="flex: 2 1 0; overflow: auto;", classes="pa-2"):
                v3.VAlert(v_if="saved_folder", type="success", density="compact", variant="tonal", closable=True,
                          classes="mb-1", raw_attrs=_testid("saved"),
                          text=("`Saved by ${reader} in ${saved_folder}: ${saved_files.join(', ')}`",))
                _results()
    return page
