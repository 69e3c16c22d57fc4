"""What the asset upload answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MeshStats(BaseModel):
    name: str
    nodes: list[str] = Field(description="names of the nodes that draw this mesh")
    triangles: int


class GltfStats(BaseModel):
    """A GLB's counts, from the Khronos glTF Validator's report."""

    triangles: int
    vertices: int
    materials: int
    textures: int = Field(description="embedded or referenced image files")
    draw_calls: int
    max_texture_size: int | None = Field(description="largest width or height of any image, px (None: no images)")
    texture_sizes: list[list[int]] = Field(description="[width, height] of each image the validator could read")
    material_names: list[str]
    meshes: list[MeshStats]
    warnings: int = Field(description="validator warnings (errors refuse the upload)")
    validator: str = Field(description="glTF Validator version")


class AssetOut(BaseModel):
    cid: str
    size: int
    media_type: str
    uri: str
    url: str  # the same content through the https gateway
    stats: GltfStats | None = Field(default=None, description="a GLB's counts; None for images")
