// SelimUnet: the decoder half of selim_sef's EncoderDecoder (SpaceNet 4 zoo unet.py), shared by
// Resnet50Unet and ScseUnet, which add the five encoder stages. Names as the reference: bottlenecks.i,
// decoder_stages.i, last_upsample, final.0, then encoder_stages.i (registered last, as there).
// Implementation in models/selim_unet.cpp; tests in tests/models/.
#pragma once

#include <memory>
#include <vector>

#include "layers/decoders.h"
#include "models/model.h"

namespace pleura {

class SelimUnet : public Model {
 protected:
  // filters: output channels of the five encoder stages; decoder_filters: four decoder widths from
  // shallow to deep; last_upsample: width of the final x2 block; gate: SCSE in the bottlenecks or not.
  SelimUnet(std::vector<int64_t> filters, std::vector<int64_t> decoder_filters, int64_t last_upsample,
            BottleneckGate gate);
  // Registers encoder stage i as "encoder_stages.i"; call for i = 0..4 in a subclass constructor.
  void add_encoder_stage(std::shared_ptr<Layer> stage);
  // Decoder convs: kaiming normal fan_in with zero bias (selim_sef's _initialize_weights).
  bool is_decoder(const std::string& module_name) const { return !module_name.starts_with("encoder_stages."); }
  // Encoder stages e0..e4 (strides 2..32); for each level i = 3..0: x = bottlenecks[3 - i](
  // decoder_stages[i](x), e_i) starting from x = e4; then final(last_upsample(x)).
  Tensor forward_impl(const Tensor& x) override;

 private:
  std::vector<int64_t> filters_;
  std::vector<std::shared_ptr<ConvBottleneck>> bottlenecks_;
  std::vector<std::shared_ptr<UnetDecoderBlock>> decoder_stages_;
  std::shared_ptr<UnetDecoderBlock> last_upsample_;
  std::shared_ptr<Sequential> final_;
  std::shared_ptr<Module> encoder_container_;
  std::vector<std::shared_ptr<Layer>> encoder_stages_;
};

}  // namespace pleura
