"""Figure builders for estimative judgments: a scenario's standing judgment over time above its level,
and the reliability diagram of the scores. Pure functions returning plotly figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..engine.judging import judgment_timeline
from ..format.judgments import TERMS
from ..format.models import Level, Scenario

from .figures import ALIGNED_MARGIN, BASE_LAYOUT, _text, as_of_marks, x_range
from .theme import INK, LEVEL_COLOURS, LEVEL_WORDS, SCORE_LEVELS

JUDGMENT_FILL = "rgba(123, 50, 148, 0.25)"  # purple: the analysts' words, apart from the level palette
JUDGMENT_INK = "#7B3294"


def build_judgment_figure(scenario: Scenario, judgments: pd.DataFrame, levels: pd.Series, start: dt.date,
                          end: dt.date, as_of: dt.date) -> go.Figure:
    """The standing judgment of one scenario day by day (the ICD 203 band as a shaded range, each
    judgment as a point with its words, source and rationale in the hover) above the scenario's level
    (a coloured strip, each level written out), with the day it happened marked."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.82, 0.18], vertical_spacing=0.04)
    daily = judgment_timeline(judgments, scenario.id, start, end)
    if scenario.happened is not None:  # once it happened, a forecast of it no longer stands
        daily.loc[daily.index >= pd.Timestamp(scenario.happened)] = ["", np.nan, np.nan, np.nan]
    words = [f"{word} ({low * 100:g}-{high * 100:g}%)" if word else "no judgment"
             for word, low, high in zip(daily["likelihood"], daily["low"], daily["high"])]
    figure.add_trace(go.Scatter(x=daily.index, y=daily["high"] * 100, mode="lines", line=dict(width=0, shape="hv"),
                                hoverinfo="skip", showlegend=False), row=1, col=1)
    figure.add_trace(go.Scatter(x=daily.index, y=daily["low"] * 100, mode="lines", fill="tonexty",
                                fillcolor=JUDGMENT_FILL, line=dict(width=0, shape="hv"), name="standing judgment",
                                customdata=words, hovertemplate="%{x|%Y-%m-%d}: %{customdata}<extra></extra>"),
                     row=1, col=1)
    mine = judgments[(judgments["scenario"] == scenario.id) & (judgments["date"] <= pd.Timestamp(end))]
    if len(mine):
        hover = [f"<b>{d:%Y-%m-%d}</b> {_text(term)}" + (f", {_text(c)} confidence" if c else "")
                 + (f"<br>known {r:%Y-%m-%d}" if r > d else "") + f"<br>{_text(a)} {_text(s)}<br>{_text(why)[:240]}"
                 for d, r, term, c, a, s, why in zip(mine["date"], mine["reported"], mine["likelihood"],
                                                     mine["confidence"], mine["analyst"], mine["source"],
                                                     mine["rationale"])]
        figure.add_trace(go.Scatter(x=mine["date"], y=mine["probability"] * 100, mode="markers", name="judgment",
                                    marker=dict(symbol="diamond", size=10, color=JUDGMENT_INK,
                                                line=dict(width=1, color="white")),
                                    hovertext=hover, hoverinfo="text", cliponaxis=False), row=1, col=1)
    window = levels.loc[pd.Timestamp(start):pd.Timestamp(end)]
    palette = [(-1, LEVEL_COLOURS[Level.NO_DATA])] + [(score, LEVEL_COLOURS[SCORE_LEVELS[score]]) for score in range(4)]
    colourscale = []
    for position, (_, colour) in enumerate(palette):
        colourscale += [[position / len(palette), colour], [(position + 1) / len(palette), colour]]
    figure.add_trace(go.Heatmap(z=[window.to_numpy()], x=window.index, y=["level"], zmin=-1.5, zmax=3.5,
                                colorscale=colourscale, showscale=False,
                                customdata=[[LEVEL_WORDS[SCORE_LEVELS[int(score)]] for score in window]],
                                hovertemplate="%{x|%Y-%m-%d}: scenario %{customdata}<extra></extra>"), row=2, col=1)
    shapes, notes = as_of_marks(as_of, end)
    if scenario.happened and start <= scenario.happened <= end:
        day = pd.Timestamp(scenario.happened)
        shapes.append(dict(type="line", xref="x", x0=day, x1=day, yref="paper", y0=0, y1=1,
                           line=dict(color=INK, width=2)))
        notes.append(dict(xref="x", x=day, yref="paper", y=0.5, xanchor="left", showarrow=False,
                          text=f" happened {scenario.happened.isoformat()}", font=dict(size=12, color=INK),
                          bgcolor="rgba(255,255,255,0.8)"))
    # the y axis reads in the words of ICD 203: each term beside the middle of its band, the bands' edges as grid
    edges = sorted({term.low * 100 for term in TERMS} | {TERMS[-1].high * 100})
    shapes += [dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=edge, y1=edge, layer="below",
                    line=dict(color="#E0E0E0", width=1)) for edge in edges]
    figure.update_layout(**BASE_LAYOUT, height=380, shapes=shapes, annotations=notes, showlegend=False,
                         title=dict(text=f"{_text(scenario.name)}: the analysts' judgment and the scenario's level",
                                    font=dict(size=16)))
    figure.update_yaxes(range=[0, 100], tickvals=[term.probability * 100 for term in TERMS],
                        ticktext=[f"{term.word} ({term.band})" for term in TERMS], tickfont=dict(size=11),
                        showgrid=False, row=1, col=1)
    figure.update_yaxes(showticklabels=True, row=2, col=1)
    figure.update_xaxes(range=x_range(start, end), tickformat="%Y-%m-%d", row=2, col=1)
    figure.update_layout(margin=ALIGNED_MARGIN)
    return figure


def build_reliability_figure(scores) -> go.Figure:
    """Reliability diagram: for each likelihood band with resolved judgments, how often they came true
    (y) against the band's middle (x), with the band's range as an error bar and the count written
    beside; the diagonal is perfect calibration."""
    items = [item for item in scores.reliability if item.resolved]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="perfectly calibrated",
                                line=dict(color="#9E9E9E", dash="dash"), hoverinfo="skip"))
    if items:
        x = [item.term.probability * 100 for item in items]
        figure.add_trace(go.Scatter(
            x=x, y=[item.frequency * 100 for item in items], mode="markers+text", name="judgments",
            text=[f"{item.term.word}: {item.came_true} of {item.resolved}" for item in items],
            textposition="middle right", cliponaxis=False,
            error_x=dict(type="data", symmetric=False, array=[(item.term.high - item.term.probability) * 100 for item in items],
                         arrayminus=[(item.term.probability - item.term.low) * 100 for item in items],
                         color=JUDGMENT_INK, thickness=1),
            marker=dict(size=[8 + 3 * np.sqrt(item.resolved) for item in items], color=JUDGMENT_INK),
            hovertemplate="%{text}<extra></extra>"))
    figure.update_layout(**BASE_LAYOUT, height=380, showlegend=False,
                         title=dict(text=f"Reliability of the judgments (horizon {scores.horizon_days} days, as of "
                                         f"{scores.as_of.isoformat()})", font=dict(size=16)),
                         xaxis=dict(range=[0, 100], title="likelihood said (middle of the ICD 203 band)",
                                    ticksuffix="%"),
                         yaxis=dict(range=[-5, 105], title="how often it came true", ticksuffix="%"))
    return figure
