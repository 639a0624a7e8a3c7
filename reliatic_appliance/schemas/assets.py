"""Asset request and response models (SPEC §5 Assets). No logic here."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from reliatic_appliance.domain.risk_matrix import RiskRanking
from reliatic_appliance.domain.vocabulary import AssetStatus, AssetType, Criticality
from reliatic_appliance.ports import ASSET_SORTABLE
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    CursorPageQuery,
    DateText,
    IsoDate,
    LongText,
    Name,
    OneOf,
    SearchText,
    ShortText,
    Timestamp,
    sort_values,
)

TagNumber = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
    ),
    Field(description="Plant tag, unique in the tenant (case-insensitive).", examples=["V-101"]),
]
Pressure = Annotated[float, Field(ge=-101.325, le=1_000_000, description="kPa (gauge)")]
Temperature = Annotated[float, Field(ge=-273.15, le=2000, description="°C")]
Thickness = Annotated[float, Field(gt=0, le=1000, description="mm")]
Allowance = Annotated[float, Field(ge=0, le=1000, description="mm")]

ASSET_SORT_FIELDS: tuple[str, ...] = ASSET_SORTABLE
AssetSort = Annotated[str, OneOf(sort_values(ASSET_SORT_FIELDS))]


class AssetFields(BaseModel):
    """The writable optional fields, shared by create and update."""

    model_config = STRICT_INPUT

    description: LongText | None = None
    location: ShortText | None = None
    unit: ShortText | None = None
    manufacturer: ShortText | None = None
    material: ShortText | None = None
    install_date: IsoDate | None = None
    design_pressure_kpa: Pressure | None = None
    design_temperature_c: Temperature | None = None
    nominal_thickness_mm: Thickness | None = None
    required_thickness_mm: Thickness | None = None
    corrosion_allowance_mm: Allowance | None = None
    criticality: Criticality | None = None


class AssetCreate(AssetFields):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "tag_number": "V-101",
                    "name": "HP Separator",
                    "asset_type": "vessel",
                    "material": "SA-516 Gr.70",
                    "design_pressure_kpa": 4500,
                    "nominal_thickness_mm": 25.4,
                    "required_thickness_mm": 18.2,
                }
            ]
        },
    )

    tag_number: TagNumber
    name: Name
    asset_type: AssetType
    status: AssetStatus = AssetStatus.ACTIVE


class AssetUpdate(AssetFields):
    """Partial update: only the fields sent change; required fields cannot become null."""

    model_config = ConfigDict(
        **STRICT_INPUT, json_schema_extra={"examples": [{"status": "inactive"}]}
    )

    # Defaults of None are never validated, so an explicit null for these is refused.
    tag_number: TagNumber = None  # type: ignore[assignment]  # optional, not nullable
    name: Name = None  # type: ignore[assignment]  # optional, not nullable
    asset_type: AssetType = None  # type: ignore[assignment]  # optional, not nullable
    status: AssetStatus = None  # type: ignore[assignment]  # optional, not nullable


class Asset(BaseModel):
    """An asset as the API returns it; computed fields are null until their data exists."""

    id: str
    tag_number: str
    name: str
    asset_type: AssetType
    description: str | None
    status: AssetStatus
    location: str | None
    unit: str | None
    manufacturer: str | None
    material: str | None
    install_date: DateText | None
    design_pressure_kpa: float | None
    design_temperature_c: float | None
    nominal_thickness_mm: float | None
    required_thickness_mm: float | None
    corrosion_allowance_mm: float | None
    criticality: Criticality | None
    risk_ranking: RiskRanking | None
    last_inspection_date: DateText | None
    corrosion_rate_mm_per_year: float | None
    remaining_life_years: float | None
    next_inspection_due: DateText | None
    created_at: Timestamp
    updated_at: Timestamp


class AssetListQuery(CursorPageQuery):
    status: AssetStatus | None = Field(None, description="Filter by status.")
    type: AssetType | None = Field(None, description="Filter by asset_type.")
    search: SearchText | None = Field(
        None, description="Case-insensitive substring of tag_number or description."
    )
    sort: AssetSort | None = Field(
        None, description="Sort field; prefix '-' for descending. Ties by id."
    )
